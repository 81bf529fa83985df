import Engine
import Foundation

/// One student run in a run directory: check the teacher's logits against the data, train
/// with the KD loss (or from scratch for alpha 0), evaluate the best weights on the test split.
/// What `student-distill` does, and what a sweep does for each of its points.
public enum StudentRun {
    public struct Summary: Sendable {
        public var bestValAccuracy: Double
        public var bestEpoch: Int
        /// nil on a process other than rank 0 of a job, which does not evaluate.
        public var testAccuracy: Double?
        public var agreement: Double?
        public var wallSeconds: Double
    }

    /// - Parameters:
    ///   - logits: folder of logits files overriding `teacher_logits`.
    ///   - overrides: `--set` keys on top of params.json (`ParamsOverrides`).
    @discardableResult
    public static func run(modelDir: String, logits: String? = nil, restore: RestorePoint? = nil,
                           overrides: ParamsOverrides = ParamsOverrides(), context: RunContext = RunContext()) throws -> Summary {
        let started = Date()
        let setup = try RunSetup(runDir: modelDir, overrides: overrides, context: context)
        let p = setup.params
        let teacher = try TeacherFiles.load(logits ?? p.teacherLogits.map { setup.directory.resolve($0) }, setup: setup)
        let log = try RunLog(runDir: modelDir, cluster: context.cluster)
        if let line = setup.overridesLine { log.info(line) }
        try teacher.describe(to: log, params: p)
        let trainer = try Trainer(setup: setup, log: log, teacher: teacher.targets(classes: setup.splits.train.numClasses))
        let outcome = try trainer.train(restore: restore)
        let wall = Date().timeIntervalSince(started)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log, teacherTest: teacher.files[.test]) {
            $0.wallSeconds = wall; $0.trainImages = trainer.trainIndices.count; $0.epochs = outcome.epochs
        }
        guard let test else {
            return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: nil, agreement: nil, wallSeconds: wall)
        }
        var line = "student \(p.modelVersion) (\(p.distillationDescription ?? "scratch")): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy))"
        if let a = test.teacherAgreement { line += ", teacher agreement \(percent(a))" }
        log.info(line)
        return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: test.accuracy,
                       agreement: test.teacherAgreement, wallSeconds: wall)
    }
}
