import ArgumentParser
import Foundation
import Engine
import KDCommandLine
import Pipeline

@main
struct StudentDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "student-distill",
        abstract: "Stage 3 of 3: train a small student CNN against a teacher's cached logits.",
        discussion: """
        Trains the student with Hinton's loss, \
        alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, label), \
        where alpha weighs the soft (teacher) term. The teacher's logits come from the files \
        teacher-export wrote; the teacher itself is never loaded, so a temperature x alpha sweep \
        reuses one export. alpha = 0 trains the scratch baseline and needs no logits. \
        'student-distill --model-dir DIR' trains one run ('train' is the default subcommand); \
        'sweep' runs every point of a sweep.json, 'results' tabulates and draws them, \
        'evaluate' measures any checkpoint on any split, 'export-onnx' writes a trained student \
        as an ONNX model.
        """,
        version: ToolVersion.description,
        subcommands: [Train.self, Sweep.self, Results.self, Summary.self, Evaluate.self, ExportONNX.self],
        defaultSubcommand: Train.self
    )
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one student from its run directory's params.json.",
        discussion: """
        Each logits file is checked against the data before training (format, dataset \
        fingerprint, sample and class counts, labels row by row, finite values). Writes \
        last.h5, best.h5, the metrics files, history.json, metrics.csv and train.log beside params.json, \
        then evaluates the best weights on the test split (with the teacher agreement).
        """
    )

    @OptionGroup var options: RunOptions
    @OptionGroup var params: ParamsOverrideOption

    @Option(name: .long, help: "Folder of cached teacher logits (overrides teacher_logits in params.json).")
    var logits: String?

    func run() throws {
        try DistributedCommand.run {
            try StudentRun.run(modelDir: options.modelDir, logits: logits, restore: options.restoreFile, overrides: params.overrides(),
                               context: CrashHook.context)
        }
    }
}

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every point of SWEEP_DIR/sweep.json against the one teacher export.",
        discussion: """
        Writes one child run directory per point (alpha_0.9_T_4_seed_1/, scratch_seed_1/) and \
        trains them one after another. Finished children are skipped and an interrupted one is \
        resumed from its last.h5, so running the command again continues a stopped sweep. The \
        teacher is never run.
        """
    )

    @Argument(help: "The sweep folder, holding sweep.json.")
    var sweepDir: String

    func run() throws {
        try DistributedCommand.run { try SweepRunner.run(sweepDir: sweepDir, context: CrashHook.context) }
    }
}

struct Results: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tabulate a sweep (results.md, results.csv, heatmap.svg, curves.svg, report.html), or report one run (report.html).",
        discussion: """
        For a sweep folder: for each (T, alpha) and for scratch, mean and standard deviation over \
        seeds of the best validation accuracy, the test accuracy of the best-on-validation weights, \
        the teacher agreement and the wall time. The configuration chosen on validation is marked \
        and compared with scratch on test, against the seed-to-seed spread. report.html puts it on \
        one self-contained page with the pictures and the chosen student's and the teacher's \
        confusion matrices. For a run directory (no sweep.json): report.html with its learning \
        curves and, for a student, its confusion matrix beside its teacher's.
        """
    )

    @Argument(help: "The sweep folder, holding sweep.json and its finished children; or one run directory.")
    var sweepDir: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: (sweepDir as NSString).appendingPathComponent("sweep.json")) else {
            try DistributedCommand.run { print("wrote " + (try RunReport(runDir: sweepDir).write())) }
            return
        }
        try DistributedCommand.run {
            let results = try SweepResults(sweepDir: sweepDir)
            try results.write()
            print(results.markdown())
        }
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one line per run directory: role, model, test and best validation accuracy.",
        discussion: """
        Works on any run directory of the three stages (a teacher is one with a logits folder). \
        A run without its metrics files is reported as not finished.
        """
    )

    @Argument(help: "Run directories.")
    var runDirs: [String]

    func run() throws {
        for dir in runDirs { print(try RunSummary.line(for: dir)) }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate one checkpoint of a run on one split: accuracy and loss.",
        discussion: """
        Works on any run directory of the three stages. Writes \
        evaluation_<split>_<checkpoint>.json beside params.json (split, checkpoint, its epoch, \
        images, accuracy, loss) and prints one line. The test split is meant to be looked at \
        once: choose checkpoints and settings on val.
        """
    )

    @OptionGroup var directory: ModelDirOption

    @Option(name: .long, help: "Which checkpoint: 'best' (highest validation accuracy) or 'last'.")
    var checkpoint: RestorePoint = .best

    @Option(name: .long, help: "Which split: train, val or test.")
    var split: SplitName = .test

    func run() throws {
        try DistributedCommand.run { try EvaluateRun.run(modelDir: directory.modelDir, checkpoint: checkpoint, split: split) }
    }
}
