import Engine
import Foundation

/// A student run's teacher export: the logits files of the three splits, each checked against
/// the data before training (a wrong file must stop the run, not skew it), and the views the
/// train rows replay.
struct TeacherFiles {
    /// The folder the files came from; nil for a run without a teacher.
    let folder: String?
    let files: [SplitName: LogitsFile]
    /// The views of a multi-view export, which the run replays.
    let replayed: TeacherViews?

    /// Reads `folder`'s files for `setup`'s run. Train must be there when the run uses the
    /// teacher; val and test are optional.
    static func load(_ folder: String?, setup: RunSetup) throws -> TeacherFiles {
        let p = setup.params
        guard !p.usesTeacher || folder != nil else {
            let what = p.alpha > 0 ? "key 'alpha' is \(p.alpha)" : "\(p.teacherTermKeys.joined(separator: ", ")) set"
            throw KDError(file: setup.paramsPath, "\(what) but no teacher logits are given: set 'teacher_logits' or pass --logits")
        }
        guard let folder else { return TeacherFiles(folder: nil, files: [:], replayed: nil) }
        var files: [SplitName: LogitsFile] = [:]
        for split in SplitName.allCases {
            let path = (folder as NSString).appendingPathComponent("\(split.rawValue).h5")
            guard FileManager.default.fileExists(atPath: path) else {
                if split == .train && p.usesTeacher { throw KDError(file: path, "file not found (run teacher-export first)") }
                continue
            }
            // The train rows may stay in the file, or compact in memory; val's are compared with every epoch's.
            files[split] = try LogitsFile.load(path, for: setup.splits[split], split: split,
                                               memoryBudget: split == .train ? p.memoryBudget : .max, keepCompact: split == .train)
        }
        let trainPath = (folder as NSString).appendingPathComponent("train.h5")
        if p.usesFeatures, let train = files[.train], train.features == nil {
            let (key, dataset) = p.atWeight > 0 ? ("at_weight \(numberText(p.atWeight))", "features/attention_stage<i>")
                                                : ("relational KD", "features/embedding")
            throw KDError(file: trainPath, "has no '\(dataset)', which \(key) needs: export it with teacher-export --features (make logits EXPORT_ARGS=--features)")
        }
        let replayed = try files[.train].flatMap { p.usesTeacher ? try checkViews(of: $0, path: trainPath, setup: setup) : nil }
        return TeacherFiles(folder: folder, files: files, replayed: replayed)
    }

    /// What the trainer's loss terms read.
    func targets(classes: Int) throws -> TeacherTargets {
        TeacherTargets(classes: classes, logits: files[.train], features: files[.train]?.features, views: replayed,
                       validation: try files[.val]?.allLogits())
    }

    /// The teacher, its views and any warning, for the run's log.
    func describe(to log: RunLog, params p: Params) throws {
        guard let t = files[.train], let folder else { return }
        log.info("Teacher logits: \(t.metadata.teacherModel) from \(folder), checked against the data (train \(t.count) rows, teacher train accuracy \(percent(t.metadata.teacherAccuracy)))"
                 + (t.encoding != .dense ? "; stored \(t.encoding)" : "")
                 + (t.stored?.isOnDisk == true ? "; larger than memory_budget_mb, read from the file batch by batch" : ""))
        if let v = replayed {
            log.info("Replaying the teacher's \(v.perSample) augmented views per training image (\(v.augmentation.summary), view seed \(v.seed)): each epoch every image takes one of its stored views, with that view's targets")
        } else if p.usesTeacher && p.augmentation {
            log.info("warning: allow_fixed_teacher: the inputs are augmented but the teacher's targets belong to the plain images (a fixed teacher)")
        }
        // Standardised logits are z-scores, whose softmax is never one-hot at these temperatures.
        let oneHot = p.alpha > 0 && !p.logitStandardization ? try Self.oneHotShare(t, temperature: Float(p.temperature)) : 0
        if oneHot >= 0.5 {
            log.info("warning: at temperature \(p.temperature) the teacher's softened outputs are one-hot in float32 for \(percent(oneHot)) of the training rows (the other classes underflow to 0), so the KD term only copies the teacher's top class, scaled by T^2 = \(p.temperature * p.temperature); a temperature of 1 or more keeps the soft labels")
        }
    }

    /// The share of the first 65,536 rows of `t` whose softened distribution is one-hot
    /// (`DistillationLoss.oneHotRows`), read 1,024 rows at a time: all at once, a thousand
    /// classes took 500 MB at a student's start.
    static func oneHotShare(_ t: LogitsFile, temperature: Float) throws -> Double {
        let rows = min(t.count * t.viewsPerSample, 65536)
        guard rows > 0 else { return 0 }
        var oneHot = 0
        for first in stride(from: 0, to: rows, by: 1024) {
            let block = try t.logits(of: Array(first..<min(first + 1024, rows)))
            oneHot += DistillationLoss.oneHotRows(teacher: block, classes: t.metadata.numClasses, temperature: temperature)
        }
        return Double(oneHot) / Double(rows)
    }

    /// Whether the teacher's train rows fit this run's inputs: a multi-view export's views
    /// (returned, to replay) need a student that augments the same way; plain rows and an
    /// augmenting student need `allow_fixed_teacher`.
    static func checkViews(of train: LogitsFile, path: String, setup: RunSetup) throws -> TeacherViews? {
        let p = setup.params
        guard let views = train.views else {
            guard !p.augmentation || p.allowFixedTeacher else {
                throw KDError(file: setup.paramsPath, "key 'augmentation': the inputs are cropped and flipped but \(path) holds the teacher's outputs on the plain images, so the targets would not match the inputs; export views to replay (teacher-export --views 8) or set 'allow_fixed_teacher': true to train on them anyway")
            }
            return nil
        }
        guard p.augmentation else {
            throw KDError(file: path, "holds the teacher's outputs on \(views.perSample) augmented views per training image (teacher-export --views), for students with 'augmentation': true; set it, or use an export without --views")
        }
        let mine = setup.transform
        guard views.augmentation == mine else {
            throw KDError(file: path, "views of \(views.augmentation.summary), but this student augments with \(mine.summary): give the teacher's params.json the student's augmentation keys and export again")
        }
        return views
    }
}
