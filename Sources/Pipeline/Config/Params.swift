import Engine
import Foundation

/// The settings of one run, read from `<run dir>/params.json`: flat snake_case keys as in the
/// classic KD repository, plus this project's. Decoding is strict: an unknown key, a value of
/// the wrong type or out of range is an error that names the file and the key.
public struct Params: Equatable, Sendable {
    // MARK: Model
    /// Registry name of the model this run trains ("cnn5", "resnet20", ...).
    public var modelVersion = "cnn5"
    /// cnn5's base width.
    public var numChannels = 32
    public var dropoutRate: Float = 0.5

    // MARK: Data
    public var dataset = DatasetKind.fashionMNIST
    /// Folder of the dataset files; nil for the dataset's default.
    public var dataDir: String?
    /// Fraction of the training split to train on, in (0, 1] (a seeded, stratified subset).
    public var subsetPercent = 1.0
    /// Size of the validation hold-out carved from the official training set.
    public var valSize = 5000
    /// Seed of the train/val split. Teacher and students must share it: their logits files are
    /// keyed to the split's fingerprint.
    public var splitSeed: UInt64 = 0
    /// Random crop (4-pixel zero padding) and horizontal flip in training.
    public var augmentation = false

    // MARK: Optimisation
    public var seed: UInt64 = 1
    public var batchSize = 128
    public var numEpochs = 30
    public var optimizer = Optimizer.Kind.adam
    public var learningRate = 1e-3
    public var momentum = 0.9
    public var nesterov = false
    public var weightDecay = 0.0
    /// "constant", "step", "multistep" or "cosine".
    public var lrSchedule = LRSchedule.Kind.constant
    public var lrStepSize = 30
    public var lrGamma = 0.1
    public var lrMilestones: [Int] = []
    public var lrMin = 0.0
    public var warmupEpochs = 0

    // MARK: Distillation
    /// Weight of the soft (teacher) term; 0 trains from scratch and needs no logits.
    public var alpha = 0.0
    public var temperature = 1.0
    public var klReduction = DistillationLoss.KLReduction.batchmean
    /// The teacher's model name, for the record (the student never builds it).
    public var teacher: String?
    /// Folder of the teacher's logits files, relative to the run directory or absolute.
    public var teacherLogits: String?

    // MARK: Logging
    /// Print a progress line every this many batches when not on a terminal.
    public var saveSummarySteps = 100

    public init() {}

    /// The learning-rate schedule these settings describe.
    public var schedule: LRSchedule {
        var s = LRSchedule(kind: lrSchedule)
        s.stepSize = lrStepSize
        s.gamma = lrGamma
        s.milestones = lrMilestones
        s.totalEpochs = numEpochs
        s.minLR = lrMin
        s.warmupEpochs = warmupEpochs
        return s
    }

    /// Every key params.json may hold.
    public static let keys: [String] = [
        "model_version", "num_channels", "dropout_rate", "dataset", "data_dir", "subset_percent", "val_size",
        "split_seed", "augmentation", "seed", "batch_size", "num_epochs", "optimizer", "learning_rate", "momentum",
        "nesterov", "weight_decay", "lr_schedule", "lr_step_size", "lr_gamma", "lr_milestones", "lr_min",
        "warmup_epochs", "alpha", "temperature", "kl_reduction", "teacher", "teacher_logits", "save_summary_steps",
    ]
}
