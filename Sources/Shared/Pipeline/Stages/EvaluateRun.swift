import Engine
import Foundation

/// `student-distill evaluate`: one checkpoint of a finished (or running elsewhere, stopped) run,
/// evaluated on one split and reported beside the run's other files. Works on any run
/// directory of the three stages.
public enum EvaluateRun {
    @discardableResult
    public static func run(modelDir: String, checkpoint: RestorePoint, split: SplitName,
                           log: (String) -> Void = { print($0) }) throws -> EvaluationReport {
        let setup = try RunSetup(runDir: modelDir)
        let model = try setup.makeModel()
        let path = setup.directory.path(checkpoint.file)
        let state = try Checkpoint.load(path, into: model)
        let data = setup.splits[split]
        let result = try setup.evaluator(model, on: data).run()
        let report = EvaluationReport(split: split, checkpoint: checkpoint, epoch: state.epoch, images: data.count,
                                      accuracy: result.accuracy, loss: result.loss)
        let out = setup.directory.evaluationPath(split: split, checkpoint: checkpoint)
        try RunDirectory.writeJSON(report, to: out)
        log("\(checkpoint.rawValue).h5 (epoch \(state.epoch)) on the \(split.rawValue) split (\(data.count) images): accuracy \(percent(result.accuracy)), loss \(String(format: "%.4f", result.loss)) -> \(out)")
        return report
    }
}
