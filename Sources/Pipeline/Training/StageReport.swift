import Engine
import Foundation

/// The end-of-run evaluation the stages share.
public enum StageReport {
    /// Loads `best.h5` into `model`, evaluates the test split once, and writes
    /// `metrics_test_best_weights.json` (plus `extra` keys).
    @discardableResult
    public static func testBestWeights(setup: RunSetup, model: Model, log: RunLog, extra: [String: Any] = [:],
                                       teacherTest: LogitsFile? = nil) throws -> (accuracy: Double, agreement: Double?) {
        try Checkpoint.load(setup.path("best.h5"), into: model)
        let result = Evaluator(model: model, data: setup.splits.test, normalization: setup.normalization).run()
        var metrics: [String: Any] = ["accuracy": result.accuracy, "loss": result.loss]
        var agreement: Double?
        if let t = teacherTest {
            let k = model.numClasses
            let agree = (0..<t.count).filter { LogitsFile.argmax(t.logits, row: $0, classes: k) == LogitsFile.argmax(result.logits, row: $0, classes: k) }.count
            agreement = Double(agree) / Double(max(t.count, 1))
            metrics["teacher_agreement"] = agreement
            metrics["teacher_test_accuracy"] = t.metadata.teacherAccuracy
        }
        for (k, v) in extra { metrics[k] = v }
        try writeJSON(metrics, to: setup.path("metrics_test_best_weights.json"))
        return (result.accuracy, agreement)
    }
}
