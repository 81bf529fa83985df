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

    /// - Parameters:
    ///   - logits: folder of logits files overriding `teacher_logits`.
    ///   - overrides: `--set` keys on top of params.json (`ParamsOverrides`).
    @discardableResult
    public static func run(modelDir: String, logits: String? = nil, restore: RestorePoint? = nil,
                           overrides: ParamsOverrides = ParamsOverrides()) throws -> Summary {
        let started = Date()
        let setup = try RunSetup(runDir: modelDir, overrides: overrides)
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
        let replayed = try files[.train].flatMap { train in
            p.usesTeacher ? try checkViews(of: train, path: (folder! as NSString).appendingPathComponent("train.h5"), setup: setup) : nil
        }
        let log = try RunLog(runDir: modelDir)
        if let line = setup.overridesLine { log.info(line) }
        if let t = files[.train] {
            log.info("Teacher logits: \(t.metadata.teacherModel) from \(folder!), checked against the data (train \(t.count) rows, teacher train accuracy \(percent(t.metadata.teacherAccuracy)))")
            if let v = replayed {
                log.info("Replaying the teacher's \(v.perSample) augmented views per training image (crop padding \(v.augmentation.padding), flips, view seed \(v.seed)): each epoch every image takes one of its stored views, with that view's targets")
            } else if p.usesTeacher && p.augmentation {
                log.info("warning: allow_fixed_teacher: the inputs are augmented but the teacher's targets belong to the plain images (a fixed teacher)")
            }
            // Standardised logits are z-scores, whose softmax is never one-hot at these temperatures.
            let oneHot = p.alpha > 0 && !p.logitStandardization ? DistillationLoss.oneHotShare(teacher: t.logits, classes: t.metadata.numClasses, temperature: Float(p.temperature)) : 0
            if oneHot >= 0.5 {
                log.info("warning: at temperature \(p.temperature) the teacher's softened outputs are one-hot in float32 for \(percent(oneHot)) of the training rows (the other classes underflow to 0), so the KD term only copies the teacher's top class, scaled by T^2 = \(p.temperature * p.temperature); a temperature of 1 or more keeps the soft labels")
            }
        }
        let trainer = try Trainer(setup: setup, log: log, teacherTrainLogits: files[.train]?.logits, teacherValLogits: files[.val]?.logits,
                                  teacherTrainFeatures: files[.train]?.features, teacherViews: replayed)
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

    /// Whether the teacher's train rows fit this run's inputs: a multi-view export's views
    /// (returned, to replay) need a student that augments the same way; plain rows and an
    /// augmenting student need `allow_fixed_teacher`.
    static func checkViews(of train: LogitsFile, path: String, setup: RunSetup) throws -> TeacherViews? {
        let p = setup.params
        guard let views = train.views else {
            guard !p.augmentation || p.allowFixedTeacher else {
                throw PipelineError(file: setup.paramsPath, "key 'augmentation': the inputs are cropped and flipped but \(path) holds the teacher's outputs on the plain images, so the targets would not match the inputs; export views to replay (teacher-export --views 8) or set 'allow_fixed_teacher': true to train on them anyway")
            }
            return nil
        }
        guard p.augmentation else {
            throw PipelineError(file: path, "holds the teacher's outputs on \(views.perSample) augmented views per training image (teacher-export --views), for students with 'augmentation': true; set it, or use an export without --views")
        }
        let mine = Augmentation.standard(for: setup.splits.train)
        guard views.augmentation == mine else {
            throw PipelineError(file: path, "views of crop padding \(views.augmentation.padding)\(views.augmentation.horizontalFlip ? " with" : " without") flips, but this student augments with padding \(mine.padding) and flips: export them again with this version")
        }
        return views
    }
}
