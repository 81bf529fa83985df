import Engine
import Foundation

/// report.html of one run directory (`student-distill results RUN_DIR`): its model and
/// accuracies, the learning curves from history.json, and for a student with teacher logits its
/// best weights against the teacher on the test split (`ReportHTML`). Self-contained like a
/// sweep's report.
public struct RunReport {
    public let runDir: String

    public init(runDir: String) { self.runDir = runDir }

    /// Writes `runDir/report.html`; the path.
    @discardableResult
    public func write() throws -> String {
        let run = RunDirectory(runDir)
        let params = try Params.load(run.path(.params))
        guard let history = try run.read(TrainingHistory.self, from: .history), !history.epochs.isEmpty else {
            throw KDError(file: run.path(.history), "not found: the run has not finished an epoch")
        }
        var body = "<p>Model \(ReportHTML.escape(params.modelVersion)) on \(ReportHTML.escape(params.dataset.rawValue))"
        body += params.distillationDescription.map { "; " + ReportHTML.escape($0) } ?? "; trained from the labels"
        if let test = try run.read(TestMetrics.self, from: .testBestMetrics) {
            body += String(format: ". Test accuracy of the best weights: %.2f%%", 100 * test.accuracy)
            if let a = test.teacherAgreement { body += String(format: ", agreement with the teacher %.2f%%", 100 * a) }
        }
        let best = history.epochs.max { $0.valAccuracy < $1.valAccuracy }!
        body += String(format: "; best validation accuracy %.2f%% at epoch %d of %d.</p>\n", 100 * best.valAccuracy, best.epoch, history.epochs.count)
        let curves = SVGChart.lines([("validation", "#1f77b4", history.epochs.map(\.valAccuracy)),
                                     ("training", "#ff7f0e", history.epochs.map(\.trainAccuracy))], title: "Accuracy by epoch")
        body += "<div class=\"charts\">\n\(ReportHTML.svg(curves))</div>\n"
        if params.teacherLogits != nil {
            body += ReportHTML.comparison(ReportHTML.compare(runDir: runDir), heading: "The best weights against the teacher, test split")
        }
        let path = (runDir as NSString).appendingPathComponent("report.html")
        try AtomicWrite.write(ReportHTML.page(title: "Run: " + (runDir as NSString).lastPathComponent, body: body), to: path)
        return path
    }
}
