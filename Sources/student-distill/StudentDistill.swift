import ArgumentParser
import Foundation
import Shared

@main
struct StudentDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "student-distill",
        abstract: "Stage 3 of 3: train a small student CNN against a teacher's cached logits.",
        discussion: """
        Reads MODEL_DIR/params.json and trains the student with Hinton's loss, \
        alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, label), \
        where alpha weighs the soft (teacher) term. The teacher's logits come from the files \
        teacher-export wrote; the teacher itself is never loaded, so a temperature x alpha sweep \
        reuses one export. Each logits file is checked against the data first (format, dataset \
        fingerprint, sample and class counts, labels, finite values). alpha = 0 trains the \
        scratch baseline and needs no logits.
        """
    )

    @Option(name: .long, help: "The student's run directory (holds params.json); outputs are written beside it.")
    var modelDir: String

    @Option(name: .long, help: "Folder of cached teacher logits (overrides teacher_logits in params.json).")
    var logits: String?

    @Option(name: .long, help: "Resume from this checkpoint in the run directory: 'last' or 'best'.")
    var restoreFile: RestorePoint?

    func run() throws {
        let setup = try RunSetup(runDir: modelDir)
        let p = setup.params
        let folder = logits ?? p.teacherLogits.map { RunSetup.resolve($0, relativeTo: modelDir) }
        guard p.alpha == 0 || folder != nil else {
            throw PipelineError(file: setup.paramsPath, "key 'alpha' is \(p.alpha) but no teacher logits are given: set 'teacher_logits' or pass --logits")
        }
        // Check every file before training: a wrong one must stop the run, not skew it.
        var files: [SplitName: LogitsFile] = [:]
        if let folder {
            for split in SplitName.allCases {
                let path = (folder as NSString).appendingPathComponent("\(split.rawValue).h5")
                guard FileManager.default.fileExists(atPath: path) else {
                    if split == .train && p.alpha > 0 { throw PipelineError(file: path, "file not found (run teacher-export first)") }
                    continue
                }
                files[split] = try LogitsFile.load(path, for: setup.splits[split], split: split)
            }
        }
        let log = try RunLog(runDir: modelDir)
        if let t = files[.train] {
            log.info("Teacher logits: \(t.metadata.teacherModel) from \(folder!), checked against the data (train \(t.count) rows, teacher train accuracy \(percent(t.metadata.teacherAccuracy)))")
        }
        let trainer = try Trainer(setup: setup, log: log, teacherTrainLogits: files[.train]?.logits)
        let outcome = try trainer.train(restore: restoreFile)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log, teacherTest: files[.test])
        var summary = "student \(p.modelVersion) (alpha \(p.alpha), T \(p.temperature)): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy))"
        if let a = test.agreement { summary += ", teacher agreement \(percent(a))" }
        log.info(summary)
    }
}
