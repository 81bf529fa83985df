import ArgumentParser
import Foundation
import Engine
import Pipeline

/// `kd-bench load`: what a student pays to load its inputs, with and without the child-process
/// check of every HDF5 file (`HDF5Probe`), in interleaved rounds.
struct LoadFiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Time loading a split's logits files (train, val, test) and a checkpoint, with and without the HDF5 probe.",
        discussion: """
            The run directory's params.json names the dataset (Fashion-MNIST in BENCHMARKS.md). The logits files are written \
            here with random rows for that dataset's splits (same shapes and checks as an export), the checkpoint is a fresh \
            one of --model. Prints one JSON line: the median seconds of each arm over --rounds interleaved rounds, and the ratio.
            """)

    @Option(name: .customLong("run"), help: "A run directory whose params.json names the dataset (its outputs are not touched).")
    var runDir: String

    @Option(help: "Model of the checkpoint.")
    var model: String = "resnet20"

    @Option(help: "Interleaved rounds (each times both arms once).")
    var rounds: Int = 11

    @Option(help: "Write the files into this folder and keep them (by default a temporary folder, removed).")
    var keep: String?

    struct Report: Codable {
        let impl: String, dataset: String, rows: [Int], model: String, rounds: Int
        /// Median seconds of LogitsFile.load for the three splits plus Checkpoint.load.
        let probe_on_s: Double, probe_off_s: Double, ratio: Double
        let probe_on_spread_s: [Double], probe_off_spread_s: [Double]
    }

    func run() throws {
        HDF5Probe.start()  // as the stages do
        let setup = try RunSetup(runDir: runDir)
        let folder = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("kd-bench-load-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }
        for split in SplitName.allCases { try randomLogits(setup.splits[split], split).write(to: "\(folder)/\(split.rawValue).h5") }
        let net = try ModelRegistry.make(model, inputShape: setup.splits.train.imageShape, numClasses: setup.splits.train.numClasses)
        try Checkpoint.save(folder + "/best.h5", model: net, optimizer: nil, state: .init(epoch: 1, bestAccuracy: 0, bestEpoch: 1),
                            datasetFingerprint: "")
        func loadAll() throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            for split in SplitName.allCases { _ = try LogitsFile.load("\(folder)/\(split.rawValue).h5", for: setup.splits[split], split: split) }
            try Checkpoint.load(folder + "/best.h5", into: net)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var on: [Double] = [], off: [Double] = []
        _ = try loadAll()  // warm the page cache
        for _ in 0..<rounds {
            setenv(HDF5Probe.environmentVariable, "0", 1)
            off.append(try loadAll())
            unsetenv(HDF5Probe.environmentVariable)
            on.append(try loadAll())
        }
        let median = { (x: [Double]) in x.sorted()[x.count / 2] }
        try printJSON(Report(impl: "swift", dataset: setup.splits.train.name, rows: SplitName.allCases.map { setup.splits[$0].count },
                             model: model, rounds: rounds, probe_on_s: median(on), probe_off_s: median(off),
                             ratio: median(on) / median(off), probe_on_spread_s: [on.min()!, on.max()!],
                             probe_off_spread_s: [off.min()!, off.max()!]))
    }

    /// A logits file for `data` whose rows are random but pass every check of a load.
    private func randomLogits(_ data: Dataset, _ split: SplitName) throws -> LogitsFile {
        var rng = SeededRNG(seed: 7)
        let k = data.numClasses
        let logits = (0..<data.count * k).map { _ in Float(rng.normal() * 3) }
        let labels = data.labels
        let meta = LogitsFile.Metadata(dataset: data.name, datasetFingerprint: try data.fingerprint(), split: split, numClasses: k,
                                       teacherModel: model, checkpointSHA256: String(repeating: "0", count: 64),
                                       teacherAccuracy: Predictions.accuracy(logits: logits, labels: labels, classes: k),
                                       normalization: "mean=[0.286] std=[0.353]")
        return LogitsFile(metadata: meta, logits: logits, labels: labels)
    }
}
