import Engine
import Foundation

/// Everything a stage derives from a run directory before it trains or exports: the params,
/// the dataset and its splits, the normalisation and the model.
public struct RunSetup {
    /// The files of the run, by name.
    public let directory: RunDirectory
    public var runDir: String { directory.path }
    public var paramsPath: String { directory.path(.params) }
    public let params: Params
    public let splits: DatasetSplits
    public let normalization: Normalization
    /// This process's claim on the run directory, held as long as the setup (or a copy) lives.
    public let lock: RunLock

    /// The processes this run is shared by, and the tests' seam.
    public let context: RunContext

    /// The keys overridden by `--set`, now or by an earlier stage (overrides.json); empty when none.
    public let overrides: ParamsOverrides

    /// Claims the run directory (a second run in it is refused), reads `runDir/params.json` with
    /// the recorded overrides.json and `overrides` on top (recording the merged overrides when
    /// `overrides` adds any), and the dataset it names. Errors name the file at fault.
    public init(runDir: String, overrides new: ParamsOverrides = ParamsOverrides(), context: RunContext = RunContext()) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runDir, isDirectory: &isDir), isDir.boolValue else {
            throw KDError(file: runDir, "run directory not found")
        }
        self.context = context
        lock = try RunLock(runDir, cluster: context.cluster)
        let directory = RunDirectory(runDir)
        self.directory = directory
        let overrides = (try ParamsOverrides.read(from: directory.path(.overrides)) ?? ParamsOverrides()).merging(new)
        let params = try Params.load(directory.path(.params), overrides: overrides)
        if !new.isEmpty { try overrides.write(to: directory.path(.overrides)) }
        self.params = params
        self.overrides = overrides
        // Under MPI the root reads first, so that a folder dataset is decoded once, into the
        // cache the others then read.
        let sets = try context.cluster.rootFirst {
            try params.dataset.load(from: params.dataDir.map { directory.resolve($0) }, images: params.imageOptions(resolve: directory.resolve),
                                    quiet: !context.cluster.isRoot)
        }
        if let val = sets.val {
            splits = DatasetSplits(officialTrain: sets.train, officialVal: val, officialTest: sets.test, seed: params.splitSeed)
        } else {
            let valSize = params.valSize ?? (params.dataset.isImageFolder || params.dataset == .imageStore ? sets.train.count / 10 : 5000)
            guard valSize < sets.train.count else {
                throw KDError(file: directory.path(.params), "key 'val_size': \(valSize) is not below the training set's \(sets.train.count) images")
            }
            splits = try DatasetSplits(officialTrain: sets.train, officialTest: sets.test, valCount: valSize, seed: params.splitSeed)
        }
        if let mean = params.normalizationMean, let std = params.normalizationStd {
            guard mean.count == splits.train.channels else {
                throw KDError(file: directory.path(.params), "key 'normalization_mean': \(mean.count) values for images of \(splits.train.channels) channel(s)")
            }
            normalization = Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
        } else {
            normalization = try Normalization.fit(splits.train)
        }
    }

    /// "params: overrides.json sets alpha=0.5 on top of params.json", or nil without overrides.
    public var overridesLine: String? {
        overrides.isEmpty ? nil : "params: overrides.json (--set) sets \(overrides.summary) on top of params.json"
    }

    /// The transforms of this run's inputs (`Params.augmentation(for:)`): what training draws
    /// views from when `augmentation` is on, what replayed views render with, and the crop size
    /// that evaluation's centre crop takes.
    public var transform: Augmentation { params.augmentation(for: splits.train) }

    /// The network's input [C, H, W]: the images', or the crop's.
    public var inputShape: [Int] {
        let (h, w) = transform.outputShape(splits.train.height, splits.train.width)
        return [splits.train.channels, h, w]
    }

    /// Runs `model` over `data` in evaluation mode, `eval_batch_size` images at a time.
    public func evaluator(_ model: Model, on data: Dataset) -> Evaluator {
        var e = Evaluator(model: model, data: data, normalization: normalization, transform: transform)
        e.batchSize = params.evalBatchSize
        return e
    }

    /// The model of `params.model_version` for this dataset.
    public func makeModel() throws -> Model {
        if let value = params.modelSpec {
            var spec = try ModelSpecReader.read(value, file: directory.path(.params), folder: directory.path)
            spec.name = params.modelVersion
            return try spec.build(inputShape: inputShape, numClasses: splits.train.numClasses, seed: params.seed)
        }
        return try ModelRegistry.make(params.modelVersion, inputShape: inputShape, numClasses: splits.train.numClasses,
                               options: ModelOptions(numChannels: params.numChannels, dropoutRate: params.dropoutRate, seed: params.seed))
    }
}
