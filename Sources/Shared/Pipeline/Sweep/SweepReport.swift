import Engine
import Foundation

/// report.html of a sweep, the page to look at: the results table, the verdict as results.md
/// has them, the T x alpha heat map and the learning curves, and for the configuration chosen on
/// validation its first seed's student against the teacher on the test split (`ReportHTML`).
/// Self-contained: no script, no other file, the pictures inline as SVG.
struct SweepReport {
    let results: SweepResults
    /// The chosen student against the teacher, or why there is none.
    let comparison: Result<TeacherStudentComparison, KDError>

    init(_ results: SweepResults) {
        self.results = results
        if let run = results.chosen?.runs.min(by: { $0.point.seed < $1.point.seed }) {
            comparison = ReportHTML.compare(runDir: (results.sweepDir as NSString).appendingPathComponent(run.point.directoryName))
        } else {
            comparison = .failure(KDError("no configuration was chosen: the sweep has no finished KD run"))
        }
    }

    func html() -> String {
        var body = """
            <p>Accuracies in %, mean ± sample standard deviation over seeds. Validation: the best epoch on the validation split;
            test: the test split with those best-on-validation weights. Teacher agreement: the share of images where student and
            teacher pick the same class; KL to teacher: KL(teacher || student) at T = 1 in nats, over validation images.</p>

            """
        body += table() + "<p>\(ReportHTML.inline(results.verdict()))</p>\n"
        if !results.unfinished.isEmpty {
            body += "<p>Not finished (\(results.unfinished.count)): \(ReportHTML.escape(results.unfinished.joined(separator: ", ")))</p>\n"
        }
        body += "<div class=\"charts\">\n\(ReportHTML.svg(SVGChart.heatmap(results)))\(ReportHTML.svg(SVGChart.curves(results)))</div>\n"
        let label = results.chosen?.label ?? "—"
        body += ReportHTML.comparison(comparison, heading: "The chosen configuration (\(label), first seed) against its teacher, test split")
        return ReportHTML.page(title: "Sweep results: " + (results.sweepDir as NSString).lastPathComponent, body: body)
    }

    private func table() -> String {
        var t = "<table>\n<tr><th>configuration</th><th>runs</th><th>val acc</th><th>test acc</th><th>val teacher agreement</th>"
            + "<th>val KL to teacher</th><th>test teacher agreement</th><th>wall time (s)</th></tr>\n"
        for r in results.rows {
            let chosen = results.chosen?.configuration == r.configuration
            let kl = r.valKL.count == 0 ? "—" : String(format: "%.4f ± %.4f", r.valKL.mean, r.valKL.std)
            t += "<tr\(chosen ? " class=\"chosen\"" : "")><td>\(ReportHTML.escape(r.label))\(chosen ? " <strong>(chosen on val)</strong>" : "")</td>"
                + "<td>\(r.runs.count)</td><td>\(results.pct(r.val))</td><td>\(results.pct(r.test))</td><td>\(results.pct(r.valAgreement))</td>"
                + "<td>\(kl)</td><td>\(results.pct(r.agreement))</td><td>\(String(format: "%.0f ± %.0f", r.wall.mean, r.wall.std))</td></tr>\n"
        }
        return t + "</table>\n"
    }
}
