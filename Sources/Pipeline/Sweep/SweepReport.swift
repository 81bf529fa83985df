import Engine
import Foundation

/// report.html of a sweep, the page to look at: the results table, the verdict and the cost as
/// results.md has them, the T x alpha heat map and the learning curves, and for the configuration
/// chosen on validation its first seed's student against the teacher on the test split: both
/// confusion matrices side by side and the classes where they disagree most. Self-contained: no
/// script, no other file, the pictures inline as SVG.
struct SweepReport {
    let results: SweepResults
    /// The chosen student against the teacher, or why there is none.
    let comparison: Result<TeacherStudentComparison, PipelineError>

    init(_ results: SweepResults) {
        self.results = results
        guard let run = results.chosen?.runs.min(by: { $0.point.seed < $1.point.seed }) else {
            comparison = .failure(PipelineError("no configuration was chosen: the sweep has no finished KD run"))
            return
        }
        do {
            comparison = .success(try TeacherStudentComparison.of(runDir: (results.sweepDir as NSString).appendingPathComponent(run.point.directoryName)))
        } catch {
            comparison = .failure(error as? PipelineError ?? PipelineError("\(error)"))
        }
    }

    func html() -> String {
        let name = (results.sweepDir as NSString).lastPathComponent
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Sweep results: \(escape(name))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; max-width: 1300px; color: #222; }
            table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
            th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; } tr.chosen { background: #eef4ff; }
            .charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
            </style></head><body>
            <h1>Sweep results: \(escape(name))</h1>
            <p>Accuracies in %, mean ± sample standard deviation over seeds. Validation: the best epoch on the validation split;
            test: the test split with those best-on-validation weights. Teacher agreement: the share of images where student and
            teacher pick the same class; KL to teacher: KL(teacher || student) at T = 1 in nats, over validation images.</p>

            """
        page += table() + "<p>\(inline(results.verdict()))</p>\n"
        if !results.unfinished.isEmpty { page += "<p>Not finished (\(results.unfinished.count)): \(escape(results.unfinished.joined(separator: ", ")))</p>\n" }
        page += "<div class=\"charts\">\n\(svg(SVGChart.heatmap(results)))\(svg(SVGChart.curves(results)))</div>\n"
        page += comparisonSection()
        return page + "</body></html>\n"
    }

    private func table() -> String {
        var t = "<table>\n<tr><th>configuration</th><th>runs</th><th>val acc</th><th>test acc</th><th>val teacher agreement</th>"
            + "<th>val KL to teacher</th><th>test teacher agreement</th><th>wall time (s)</th></tr>\n"
        for r in results.rows {
            let chosen = results.chosen?.configuration == r.configuration
            let kl = r.valKL.count == 0 ? "—" : String(format: "%.4f ± %.4f", r.valKL.mean, r.valKL.std)
            t += "<tr\(chosen ? " class=\"chosen\"" : "")><td>\(escape(r.label))\(chosen ? " <strong>(chosen on val)</strong>" : "")</td>"
                + "<td>\(r.runs.count)</td><td>\(results.pct(r.val))</td><td>\(results.pct(r.test))</td><td>\(results.pct(r.valAgreement))</td>"
                + "<td>\(kl)</td><td>\(results.pct(r.agreement))</td><td>\(String(format: "%.0f ± %.0f", r.wall.mean, r.wall.std))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    private func comparisonSection() -> String {
        let label = results.chosen.map { escape($0.label) } ?? "—"
        var s = "<h2>The chosen configuration (\(label), first seed) against its teacher, \(SplitName.test.rawValue) split</h2>\n"
        switch comparison {
        case .failure(let e):
            return s + "<p>Not available: \(escape(e.message))</p>\n"
        case .success(let c):
            s += "<div class=\"charts\">\n"
                + svg(SVGChart.confusion(c.student, names: c.classNames, title: "Student: confusion matrix"))
                + svg(SVGChart.confusion(c.teacher, names: c.classNames, title: "Teacher: confusion matrix")) + "</div>\n"
            s += "<h3>Classes where student and teacher disagree most</h3>\n<table>\n<tr><th>class</th><th>images</th>"
                + "<th>student and teacher differ</th><th>student accuracy</th><th>teacher accuracy</th></tr>\n"
            for row in c.classes.prefix(5) {
                s += "<tr><td>\(row.label): \(escape(c.classNames[row.label]))</td><td>\(row.images)</td>"
                    + String(format: "<td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td></tr>\n", 100 * row.disagreement, 100 * row.studentAccuracy, 100 * row.teacherAccuracy)
            }
            return s + "</table>\n"
        }
    }

    /// An SVG document as an inline element (its XML declaration dropped).
    private func svg(_ document: String) -> String {
        document.hasPrefix("<?xml") ? String(document.drop { $0 != "\n" }.dropFirst()) : document
    }

    private func escape(_ s: String) -> String { SVGChart.escape(s) }

    /// Escaped text with results.md's **bold** as <strong>.
    private func inline(_ s: String) -> String {
        escape(s).components(separatedBy: "**").enumerated().map { $0.offset % 2 == 1 ? "<strong>\($0.element)</strong>" : $0.element }.joined()
    }
}
