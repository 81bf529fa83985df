import ArgumentParser
import Foundation
import Engine
import KDCommandLine
import Pipeline

@main
struct TeacherExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-export",
        abstract: "Stage 2 of 3: run a trained teacher once over every split and cache its raw logits in HDF5.",
        discussion: """
        Loads the teacher checkpoint from MODEL_DIR, runs it in evaluation mode over each split \
        in canonical order without augmentation (but see --views), and writes logits/<split>.h5: float32 logits \
        [N, K], int32 labels, int64 sample indices, stamped with the dataset fingerprint, so \
        student-distill can check that the logits belong to the data it trains on. Logits are \
        raw (before softmax), so any temperature can be applied later; --top-k and --dtype \
        float16 store them compactly. Under mpirun every process writes its own rows. The train split is \
        exported whole, whatever subset the teacher trained on, so students of any subset \
        find their rows.
        """,
        version: ToolVersion.description
    )

    @OptionGroup var directory: ModelDirOption
    @OptionGroup var params: ParamsOverrideOption

    @Option(name: .long, help: "Which checkpoint to export: 'best' (highest validation accuracy) or 'last'.")
    var checkpoint: RestorePoint = .best

    @Option(name: .long, help: "Comma-separated splits to export, from train, val and test.")
    var splits: SplitList = SplitList(SplitName.allCases)

    @Option(name: .long, help: "Output folder for the logits files (default: MODEL_DIR/logits).")
    var out: String?

    @Flag(name: .long, help: """
        Also store, row for row, what feature distillation needs: the input of the teacher's \
        final linear layer (features/embedding [N, D]) and each stage's spatial attention map, \
        the mean over channels of the squared activations (features/attention_stage<i> [N, H*W]).
        """)
    var features = false

    @Option(name: .long, help: """
        Augmented views per training image. Above 1, the teacher runs on that many random crops \
        and flips of every training image (the augmentation a student with 'augmentation': true \
        uses) and train.h5 holds logits [N, V, K] with the views [N, V, 3] beside them, which an \
        augmenting student replays exactly. Val and test stay single, un-augmented views.
        """)
    var views = 1

    @Option(name: .customLong("view-seed"), help: "The seed the augmented views are drawn from.")
    var viewSeed: UInt64 = 0

    @Option(name: .customLong("top-k"), help: """
        Store only the K largest logits of each row (and view), with their classes and one value \
        for the classes left out: the log of the mean of their exp(logit). A student rebuilds the \
        row with that value at every other class, at any temperature (README, 'Compact logits'). \
        Default: every class.
        """)
    var topK: Int?

    @Option(name: .long, help: """
        The stored logits' type: float32, or float16 (half the bytes; a logit beyond 65504 is \
        refused).
        """)
    var dtype: LogitsEncoding.ValueType = .float32

    func validate() throws {
        guard (1...1024).contains(views) else {
            throw ValidationError("--views must be between 1 and 1024, not \(views).")
        }
        if let topK, topK < 1 {
            throw ValidationError("--top-k must be 1 or more, not \(topK).")
        }
    }

    func run() throws {
        try DistributedCommand.run {
            try TeacherExportRun.run(modelDir: directory.modelDir, checkpoint: checkpoint, splits: splits.splits, out: out,
                                     features: features, views: views, viewSeed: viewSeed,
                                     encoding: LogitsEncoding(topK: topK, values: dtype), overrides: params.overrides())
        }
    }
}
