import Engine
import Foundation

/// One student run in a run directory: check the teacher's logits against the data, train
/// with the KD loss (or from scratch for alpha 0), evaluate the best weights on the test split.
/// What `student-distill` does, and what a sweep does for each of its points.
public enum StudentRun {
    public struct Summary: Sendable {
        public var bestValAccuracy: Double
        public var bestEpoch: Int
        public var testAccuracy: Double
        public var agreement: Double?
        public var wallSeconds: Double
    }

    /// - Parameter logits: folder of logits files overriding `teacher_logits`.
    @discardableResult
    public static func run(modelDir: String, logits: String? = nil, restore: RestorePoint? = nil) throws -> Summary {
        let started = Date()
        let setup = try RunSetup(runDir: modelDir)
        let p = setup.params
        let folder = logits ?? p.teacherLogits.map { setup.directory.resolve($0) }
        guard !p.usesTeacher || folder != nil else {
            let what = p.alpha > 0 ? "key 'alpha' is \(p.alpha)" : "a feature method is on"
            throw PipelineError(file: setup.paramsPath, "\(what) but no teacher logits are given: set 'teacher_logits' or pass --logits")
        }
        // Check every file before training: a wrong one must stop the run, not skew it.
        var files: [SplitName: LogitsFile] = [:]
        if let folder {
            for split in SplitName.allCases {
                let path = (folder as NSString).appendingPathComponent("\(split.rawValue).h5")
                guard FileManager.default.fileExists(atPath: path) else {
                    if split == .train && p.usesTeacher { throw PipelineError(file: path, "file not found (run teacher-export first)") }
                    continue
                }
                files[split] = try LogitsFile.load(path, for: setup.splits[split], split: split)
            }
        }
        if p.usesFeatures, let train = files[.train], train.features == nil {
            let (key, dataset) = p.atWeight > 0 ? ("at_weight \(SweepSpec.Point.number(p.atWeight))", "features/attention_stage<i>")
                                                : ("relational KD", "features/embedding")
            throw PipelineError(file: (folder! as NSString).appendingPathComponent("train.h5"),
                                "has no '\(dataset)', which \(key) needs: export it with teacher-export --features (make logits EXPORT_ARGS=--features)")
        }
        let log = try RunLog(runDir: modelDir)
        if let t = files[.train] {
            log.info("Teacher logits: \(t.metadata.teacherModel) from \(folder!), checked against the data (train \(t.count) rows, teacher train accuracy \(percent(t.metadata.teacherAccuracy)))")
            // Standardised logits are z-scores, whose softmax is never one-hot at these temperatures.
            let oneHot = p.alpha > 0 && !p.logitStandardization ? DistillationLoss.oneHotShare(teacher: t.logits, classes: t.metadata.numClasses, temperature: Float(p.temperature)) : 0
            if oneHot >= 0.5 {
                log.info("warning: at temperature \(p.temperature) the teacher's softened outputs are one-hot in float32 for \(percent(oneHot)) of the training rows (the other classes underflow to 0), so the KD term only copies the teacher's top class, scaled by T^2 = \(p.temperature * p.temperature); a temperature of 1 or more keeps the soft labels")
            }
        }
        let trainer = try Trainer(setup: setup, log: log, teacherTrainLogits: files[.train]?.logits, teacherValLogits: files[.val]?.logits,
                                  teacherTrainFeatures: files[.train]?.features)
        let outcome = try trainer.train(restore: restore)
        let wall = Date().timeIntervalSince(started)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log, teacherTest: files[.test]) {
            $0.wallSeconds = wall; $0.trainImages = trainer.trainIndices.count; $0.epochs = outcome.epochs
        }
        var line = "student \(p.modelVersion) (\(p.distillationDescription ?? "scratch")): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy))"
        if let a = test.teacherAgreement { line += ", teacher agreement \(percent(a))" }
        log.info(line)
        return Summary(bestValAccuracy: outcome.bestAccuracy, bestEpoch: outcome.bestEpoch, testAccuracy: test.accuracy,
                       agreement: test.teacherAgreement, wallSeconds: wall)
    }
}
