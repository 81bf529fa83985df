import Engine

/// The pieces report.html pages share (a sweep's, a run's): the page around a body, the
/// student-against-teacher section, SVG inline.
enum ReportHTML {
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 2em; max-width: 1300px; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
        th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; } tr.chosen { background: #eef4ff; }
        .charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
        </style></head><body>
        <h1>\(escape(title))</h1>
        \(body)</body></html>

        """
    }

    /// A student against its teacher on the test split: both confusion matrices side by side and
    /// the five classes they disagree on most; or why there is no comparison.
    static func comparison(_ result: Result<TeacherStudentComparison, KDError>, heading: String) -> String {
        var s = "<h2>\(escape(heading))</h2>\n"
        switch result {
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

    /// `TeacherStudentComparison.of(runDir:)` on the test split, its error kept as the reason.
    static func compare(runDir: String) -> Result<TeacherStudentComparison, KDError> {
        do {
            return .success(try TeacherStudentComparison.of(runDir: runDir))
        } catch {
            return .failure(error as? KDError ?? KDError("\(error)"))
        }
    }

    /// An SVG document as an inline element (its XML declaration dropped).
    static func svg(_ document: String) -> String {
        document.hasPrefix("<?xml") ? String(document.drop { $0 != "\n" }.dropFirst()) : document
    }

    static func escape(_ s: String) -> String { SVGChart.escape(s) }

    /// Escaped text with Markdown's **bold** as <strong>.
    static func inline(_ s: String) -> String {
        escape(s).components(separatedBy: "**").enumerated().map { $0.offset % 2 == 1 ? "<strong>\($0.element)</strong>" : $0.element }.joined()
    }
}
