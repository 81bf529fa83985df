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

    /// Claims the run directory (a second run in it is refused), reads `runDir/params.json` and
    /// the dataset it names. Errors name the file at fault.
    public init(runDir: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runDir, isDirectory: &isDir), isDir.boolValue else {
            throw PipelineError(file: runDir, "run directory not found")
        }
        lock = try RunLock(runDir)
        let directory = RunDirectory(runDir)
        self.directory = directory
        params = try Params.load(directory.path(.params))
        let (train, test) = try params.dataset.load(from: params.dataDir.map { directory.resolve($0) })
        guard params.valSize < train.count else {
            throw PipelineError(file: directory.path(.params), "key 'val_size': \(params.valSize) is not below the training set's \(train.count) images")
        }
        splits = try DatasetSplits(officialTrain: train, officialTest: test, valCount: params.valSize, seed: params.splitSeed)
        normalization = Normalization.fit(splits.train)
    }

    /// The model of `params.model_version` for this dataset.
    public func makeModel() throws -> Model {
        try ModelRegistry.make(params.modelVersion, inputShape: splits.train.imageShape, numClasses: splits.train.numClasses,
                               options: ModelOptions(numChannels: params.numChannels, dropoutRate: params.dropoutRate, seed: params.seed))
    }
}
