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
    /// A network described in JSON (an object, or the name of a file holding one; relative to
    /// the run directory) instead of a registered one; `model_version` then only names it.
    public var modelSpec: JSONValue?

    // MARK: Fine-tuning
    /// A checkpoint (this tool's, such as `scripts/import_torch_teacher.py` writes) whose
    /// weights a fresh run starts from; relative to the run directory.
    public var initFrom: String?
    /// Parameter patterns `init_from` does not load: they keep their fresh initialisation and
    /// may differ in shape (a new head for another class count: `["fc"]`).
    public var reinit: [String] = []
    /// Parameter patterns that do not train (`requires_grad=False`); or, with `trainable`, the
    /// only ones that do. A pattern is a name, a prefix ending at a dot ("layer4" for
    /// "layer4.0.conv1.weight"), or a glob with `*`.
    public var frozen: [String] = []
    public var trainable: [String] = []

    // MARK: Data
    public var dataset = DatasetKind.fashionMNIST
    /// Folder of the dataset files; nil for the dataset's default.
    public var dataDir: String?
    /// Fraction of the training split to train on, in (0, 1] (a seeded, stratified subset).
    public var subsetPercent = 1.0
    /// Size of the validation hold-out carved from the official training set; nil for the
    /// default: 5000 images for the built-in datasets, a tenth of `train/` for a folder without
    /// `val/`. A dataset with its own validation set (`val/`, food-11) ignores it.
    public var valSize: Int?
    /// Seed of the train/val split. Teacher and students must share it: their logits files are
    /// keyed to the split's fingerprint.
    public var splitSeed: UInt64 = 0
    /// Random crop (4-pixel zero padding) and horizontal flip in training.
    public var augmentation = false
    /// The network's input side, when not the image's: a random crop of it in training (with
    /// `augmentation`), the centre crop in evaluation (torchvision's `CenterCrop`).
    public var cropSize: Int?
    /// Augmentation's settings beyond the defaults: the crop's padding (nil: 4 for images of 32
    /// pixels or more, 2 below; 0 with a `crop_size`), torchvision's `pad_if_needed` and
    /// `padding_mode`, the flip, a random rotation of up to this many degrees and its
    /// interpolation.
    public var cropPadding: Int?
    public var padIfNeeded = false
    public var paddingMode = Augmentation.PaddingMode.constant
    public var horizontalFlip = true
    public var rotationDegrees = 0.0
    public var rotationInterpolation = Augmentation.Interpolation.nearest
    /// Folder datasets: the side every image is resized to (torchvision's `Resize((s, s))`),
    /// or the shorter side and then the centre square (`Resize(s)`, `CenterCrop(s)`).
    public var imageSize = 32
    public var imageResize = ImageFolderOptions.Resize.stretch
    /// Folder datasets: "rgb" (3 channels) or "grey" (1).
    public var colorMode = ColorMode.rgb
    /// Folder datasets: where decoded images are cached; nil for `~/.cache/kd-pipeline`
    /// (or `$KD_CACHE_DIR`).
    public var imageCacheDir: String?
    /// Folder datasets: leave out (and list) images that cannot be decoded instead of stopping.
    public var skipBadImages = false
    /// Decoded images (folder datasets, image stores) and teacher logits larger than this many
    /// MiB are read from their files batch by batch instead of held in memory; 0 for a quarter
    /// of this machine's memory.
    public var memoryBudgetMB = 0
    /// `memoryBudgetMB` in bytes.
    public var memoryBudget: Int { memoryBudgetMB > 0 ? memoryBudgetMB << 20 : ImageFolderOptions.defaultMemoryBudget }
    /// Per-channel mean and standard deviation of the input normalisation, as torchvision's
    /// `Normalize(mean, std)` on pixels in [0, 1]; nil fits them to the training split. A teacher
    /// trained elsewhere needs the ones it was trained with (ImageNet's: [0.485, 0.456, 0.406],
    /// [0.229, 0.224, 0.225]).
    public var normalizationMean: [Double]?
    public var normalizationStd: [Double]?

    public enum ColorMode: String, CaseIterable, Sendable {
        case rgb, grey
        public var channels: Int { self == .rgb ? 3 : 1 }
    }

    /// How a folder dataset is decoded under these settings; `resolve` turns a relative cache
    /// folder into a path.
    public func imageOptions(resolve: (String) -> String = { $0 }) -> ImageFolderOptions {
        var options = ImageFolderOptions(size: imageSize, channels: colorMode.channels, cacheDirectory: imageCacheDir.map(resolve),
                                         skipBadImages: skipBadImages, memoryBudget: memoryBudget)
        options.resize = imageResize
        return options
    }

    // MARK: Optimisation
    public var seed: UInt64 = 1
    public var batchSize = 128
    /// Images per forward pass when evaluating and exporting: what bounds their memory.
    public var evalBatchSize = 256
    /// Each batch in this many consecutive parts, one forward and backward each, whose
    /// gradients are summed (weighted by their share) before one update: gradient accumulation,
    /// with BatchNorm normalising each part alone. It is the update that as many data-parallel
    /// processes make (`mpirun`), in one process and the memory of one part.
    public var microBatches = 1
    /// Data parallel under MPI: BatchNorm normalises with the statistics of the whole batch
    /// across processes (PyTorch's SyncBatchNorm) instead of each process's share (DDP's
    /// default), so N processes train as one process with the same batch.
    public var syncBatchnorm = false
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
    /// Below 0.01 the softened targets are one-hot and the soft term, scaled by T^2, is 10^-4 of
    /// its size at T = 1 or less (at 1e-30, T^2 is 0 in float32: the term vanished without a word).
    static let temperatureRange = 0.01...10_000.0
    public var klReduction = DistillationLoss.KLReduction.batchmean
    /// The soft term: Hinton's KD ("kd") or decoupled KD ("dkd", CVPR 2022).
    public var kdMethod = DistillationLoss.Method.kd
    /// Z-score teacher and student logits per row before the soft term (CVPR 2024).
    public var logitStandardization = false
    /// DKD's weights of its target-class and non-target terms (mdistiller's defaults).
    public var dkdAlpha = 1.0
    public var dkdBeta = 8.0
    /// DKD's soft term grows linearly over this many epochs: min(epoch / dkd_warmup, 1),
    /// epochs counted from 1 as in mdistiller. 0 turns the warm-up off.
    public var dkdWarmup = 20
    /// Weight of attention transfer on the stage outputs (0: off; RepDistiller uses 1000).
    /// Needs the teacher's features (`teacher-export --features`).
    public var atWeight = 0.0
    /// Weights of relational KD's distance and angle terms on the embeddings (0: off;
    /// RepDistiller uses 25 and 50). Need the teacher's features.
    public var rkdDistanceWeight = 0.0
    public var rkdAngleWeight = 0.0
    /// DIST's weights of its inter-class and intra-class correlation terms, at `temperature`
    /// (0: off; the authors use 2 and 2 at T 4 on CIFAR-100). Logits only.
    public var distBeta = 0.0
    public var distGamma = 0.0
    /// The teacher's model name, for the record (the student never builds it).
    public var teacher: String?
    /// Folder of the teacher's logits files, relative to the run directory or absolute.
    public var teacherLogits: String?
    /// Lets an augmenting student train on a plain (one-view) export, whose targets belong to
    /// the un-augmented images, not to its inputs: Beyer et al.'s "fixed teacher" (CVPR 2022).
    /// Without it such a run stops and asks for a multi-view export.
    public var allowFixedTeacher = false

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

    /// Every key params.json may hold, with its property and bounds, in the order they are read;
    /// the cross-key checks follow in `validate`. README's params table has a row for each
    /// (`ParamsTableTests`).
    static let table: [ParamKey] = [
        .text("model_version", \.modelVersion), .int("num_channels", \.numChannels, 1...4096),
        .float("dropout_rate", \.dropoutRate, 0...0.99),
        ParamKey(name: "model_spec") { r, p in
            guard let v = r.d["model_spec"], v != .null else { return }
            switch v {
            case .object, .string: p.modelSpec = v
            default: throw r.fail("model_spec", "expected an object or a file name, found \(v.typeName)")
            }
        },
        ParamKey(name: "dataset") { r, p in
            guard let name = try r.string("dataset") else { return }
            guard let kind = DatasetKind(rawValue: name) else {
                throw r.fail("dataset", "unknown dataset '\(name)' (known: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            p.dataset = kind
        },
        .text("init_from", \.initFrom), .patterns("reinit", \.reinit), .patterns("frozen", \.frozen), .patterns("trainable", \.trainable),
        .text("data_dir", \.dataDir),
        .double("subset_percent", \.subsetPercent, 0...1, openLower: true), .int("val_size", \.valSize, 0...1_000_000),
        .seed("split_seed", \.splitSeed), .flag("augmentation", \.augmentation),
        .int("crop_size", \.cropSize, 1...4096), .int("crop_padding", \.cropPadding, 0...4096), .flag("pad_if_needed", \.padIfNeeded),
        .choice("padding_mode", \.paddingMode), .flag("horizontal_flip", \.horizontalFlip),
        .double("rotation_degrees", \.rotationDegrees, 0...180), .choice("rotation_interpolation", \.rotationInterpolation), .int("image_size", \.imageSize, 1...4096), .choice("image_resize", \.imageResize),
        .choice("color_mode", \.colorMode), .text("image_cache_dir", \.imageCacheDir), .flag("skip_bad_images", \.skipBadImages),
        .int("memory_budget_mb", \.memoryBudgetMB, 0...(1 << 30)),
        .numbers("normalization_mean", \.normalizationMean), .numbers("normalization_std", \.normalizationStd),
        .seed("seed", \.seed), .int("batch_size", \.batchSize, 1...65536), .int("eval_batch_size", \.evalBatchSize, 1...65536), .int("micro_batches", \.microBatches, 1...65536),
        .flag("sync_batchnorm", \.syncBatchnorm), .int("num_epochs", \.numEpochs, 1...100_000),
        .choice("optimizer", \.optimizer), .double("learning_rate", \.learningRate, 0...10, openLower: true),
        .double("momentum", \.momentum, 0...1, openUpper: true), .flag("nesterov", \.nesterov),
        .double("weight_decay", \.weightDecay, 0...1), .choice("lr_schedule", \.lrSchedule),
        .int("lr_step_size", \.lrStepSize, 1...100_000), .double("lr_gamma", \.lrGamma, 0...1, openLower: true),
        .increasing("lr_milestones", \.lrMilestones, 1...100_000), .double("lr_min", \.lrMin, 0...10),
        .int("warmup_epochs", \.warmupEpochs, 0...100_000),
        .double("alpha", \.alpha, 0...1),
        ParamKey(name: "hard_label_weight") { r, p in
            guard let w = try r.double("hard_label_weight", 0...1) else { return }
            guard r.d["alpha"] == nil else { throw r.fail("hard_label_weight", "give 'alpha' or 'hard_label_weight', not both (alpha = 1 - hard_label_weight)") }
            p.alpha = 1 - w
        }, .double("temperature", \.temperature, temperatureRange),
        .choice("kl_reduction", \.klReduction), .choice("kd_method", \.kdMethod), .flag("logit_standardization", \.logitStandardization),
        .double("dkd_alpha", \.dkdAlpha, 0...1000), .double("dkd_beta", \.dkdBeta, 0...1000), .int("dkd_warmup", \.dkdWarmup, 0...100_000),
        .teacherTermWeight("at_weight", \.atWeight, maximum: 1e9),
        .teacherTermWeight("rkd_distance_weight", \.rkdDistanceWeight, maximum: 1e9),
        .teacherTermWeight("rkd_angle_weight", \.rkdAngleWeight, maximum: 1e9),
        .teacherTermWeight("dist_beta", \.distBeta, maximum: 1e6), .teacherTermWeight("dist_gamma", \.distGamma, maximum: 1e6),
        .text("teacher", \.teacher), .text("teacher_logits", \.teacherLogits), .flag("allow_fixed_teacher", \.allowFixedTeacher),
        .int("save_summary_steps", \.saveSummarySteps, 1...1_000_000),
    ]

    /// Every key params.json may hold.
    public static var keys: [String] { table.map(\.name) }

    /// The keys that switch on a term beside the soft labels that reads the teacher's export
    /// (`ParamKey.teacherTermWeight` above 0): what a teacher's own training refuses, and what a
    /// student without logits is told.
    var teacherTermKeys: [String] {
        Params.table.filter { $0.switchesOnTeacherTerm?(self) == true }.map { "key '\($0.name)'" }
    }

    /// The student's loss these settings describe.
    public var distillationLoss: DistillationLoss {
        DistillationLoss(alpha: Float(alpha), temperature: Float(temperature), klReduction: klReduction, method: kdMethod,
                         standardizeLogits: logitStandardization, dkdTargetWeight: Float(dkdAlpha), dkdNonTargetWeight: Float(dkdBeta))
    }

    /// The distillation settings in words, for logs and summaries: "KD alpha 0.9, T 4",
    /// "DKD alpha 0.5 (1 target, 8 non-target, 20-epoch warm-up), T 4, standardised logits";
    /// nil for a scratch run.
    public var distillationDescription: String? {
        guard usesTeacher else { return nil }
        func n(_ x: Double) -> String { numberText(x) }
        var parts: [String] = []
        if alpha > 0 {
            var text = kdMethod == .kd ? "KD alpha \(n(alpha))" : "DKD alpha \(n(alpha)) (\(n(dkdAlpha)) target, \(n(dkdBeta)) non-target, \(dkdWarmup)-epoch warm-up)"
            text += ", T \(n(temperature))"
            if logitStandardization { text += ", standardised logits" }
            parts.append(text)
        }
        if atWeight > 0 { parts.append("attention transfer weight \(n(atWeight))") }
        if usesRKD { parts.append("relational KD distance \(n(rkdDistanceWeight)), angle \(n(rkdAngleWeight))") }
        if distBeta > 0 || distGamma > 0 { parts.append("DIST beta \(n(distBeta)), gamma \(n(distGamma)), T \(n(temperature))") }
        return parts.joined(separator: "; ")
    }

    /// Whether the run reads the teacher's export (a soft term or a feature term).
    public var usesTeacher: Bool { alpha > 0 || !teacherTermKeys.isEmpty }
    /// Whether the run needs the teacher's exported features.
    public var usesFeatures: Bool { atWeight > 0 || usesRKD }
    var usesRKD: Bool { rkdDistanceWeight > 0 || rkdAngleWeight > 0 }

    /// The factor on the soft term in `epoch` (0-based): DKD's linear warm-up, else 1.
    public func softScale(epoch: Int) -> Float {
        guard kdMethod == .dkd, dkdWarmup > 0 else { return 1 }
        return Float(min(Double(epoch + 1) / Double(dkdWarmup), 1))
    }
}

extension Params {
    /// The transforms these settings describe for `data`: what training draws views from with
    /// `augmentation` on; its crop size is also evaluation's centre crop (`RunSetup.transform`).
    public func augmentation(for data: Dataset) -> Augmentation {
        let padding = cropPadding ?? (cropSize != nil ? 0 : Augmentation.standard(for: data).padding)
        return Augmentation(padding: padding, horizontalFlip: horizontalFlip, cropSize: cropSize == data.height ? nil : cropSize,
                            padIfNeeded: padIfNeeded, paddingMode: paddingMode, rotationDegrees: rotationDegrees,
                            interpolation: rotationInterpolation)
    }
}
