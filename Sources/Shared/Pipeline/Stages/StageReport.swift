import Engine
import Foundation

/// The end-of-run evaluation the stages share.
public enum StageReport {
    /// Loads `best.h5` into `model`, evaluates the test split once, and writes
    /// `metrics_test_best_weights.json`; `completing` fills in a student run's cost fields.
    /// In a data-parallel job rank 0 alone evaluates and writes: nil on the other processes.
    @discardableResult
    public static func testBestWeights(setup: RunSetup, model: Model, log: RunLog, teacherTest: LogitsFile? = nil,
                                       completing: (inout TestMetrics) -> Void = { _ in }) throws -> TestMetrics? {
        guard setup.context.cluster.isRoot else { return nil }
        try Checkpoint.load(setup.directory.path(.best), into: model)
        let result = try setup.evaluator(model, on: setup.splits.test).run()
        var metrics = TestMetrics(accuracy: result.accuracy, loss: result.loss)
        if let t = teacherTest {
            metrics.teacherAgreement = TeacherComparison(student: result.logits, teacher: t.logits, classes: model.numClasses).agreement
            metrics.teacherTestAccuracy = t.metadata.teacherAccuracy
        }
        completing(&metrics)
        try setup.directory.write(metrics, to: .testBestMetrics)
        return metrics
    }
}
