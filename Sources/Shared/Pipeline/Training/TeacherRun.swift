import Engine
import Foundation

/// Stage 1 in a run directory: train the teacher of params.json from the labels, then evaluate
/// its best weights once on the test split. What `teacher-train` does.
public enum TeacherRun {
    public struct Summary: Sendable {
        public var bestValAccuracy: Double
        public var bestEpoch: Int
        public var testAccuracy: Double
    }

    @discardableResult
    public static func run(modelDir: String, restore: RestorePoint? = nil, overrides: ParamsOverrides = ParamsOverrides()) throws -> Summary {
        let setup = try RunSetup(runDir: modelDir, overrides: overrides)
        guard setup.params.alpha == 0 else {
            throw PipelineError(file: setup.paramsPath, "key 'alpha': teacher-train learns from the labels alone; set alpha to 0 or leave it out")
        }
        guard !setup.params.usesFeatures else {
            throw PipelineError(file: setup.paramsPath, "keys 'at_weight', 'rkd_distance_weight', 'rkd_angle_weight': teacher-train learns from the labels alone; set them to 0 or leave them out")
        }
        let log = try RunLog(runDir: modelDir)
        if let line = setup.overridesLine { log.info(line) }
        let trainer = try Trainer(setup: setup, log: log, teacherTrainLogits: nil)
        let outcome = try trainer.train(restore: restore)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log)
        log.info("teacher \(setup.params.modelVersion): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy)) with those weights")
        return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: test.accuracy)
    }
}
