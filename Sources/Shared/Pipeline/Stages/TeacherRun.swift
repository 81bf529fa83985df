import Engine
import Foundation

/// Stage 1 in a run directory: train the teacher of params.json from the labels, then evaluate
/// its best weights once on the test split. What `teacher-train` does.
public enum TeacherRun {
    public struct Summary: Sendable {
        public var bestValAccuracy: Double
        public var bestEpoch: Int
        /// nil on a process other than rank 0 of a job, which does not evaluate.
        public var testAccuracy: Double?
    }

    @discardableResult
    public static func run(modelDir: String, restore: RestorePoint? = nil, overrides: ParamsOverrides = ParamsOverrides(),
                           context: RunContext = RunContext()) throws -> Summary {
        let setup = try RunSetup(runDir: modelDir, overrides: overrides, context: context)
        guard setup.params.alpha == 0 else {
            throw KDError(file: setup.paramsPath, "key 'alpha': teacher-train learns from the labels alone; set alpha to 0 or leave it out")
        }
        guard setup.params.teacherTermKeys.isEmpty else {
            throw KDError(file: setup.paramsPath, "\(setup.params.teacherTermKeys.joined(separator: ", ")): teacher-train learns from the labels alone; set it to 0 or leave it out")
        }
        let log = try RunLog(runDir: modelDir, cluster: context.cluster)
        if let line = setup.overridesLine { log.info(line) }
        let trainer = try Trainer(setup: setup, log: log, teacher: .none(classes: setup.splits.train.numClasses))
        let outcome = try trainer.train(restore: restore)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log)
        guard let test else { return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: nil) }
        log.info("teacher \(setup.params.modelVersion): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy)) with those weights")
        return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: test.accuracy)
    }
}
