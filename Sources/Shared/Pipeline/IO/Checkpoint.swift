import Engine
import Foundation

/// Model checkpoints in HDF5: one dataset per tensor at the root, named and shaped as PyTorch's
/// `state_dict` (so h5py + `load_state_dict` take the weights as they are), plus the optimizer
/// state and the training position under the groups `optimizer/` and `training/`. Version 2
/// adds `state_dict_sha256` (`StateDictDigest`) over the root tensors, checked at load:
/// fletcher32 alone let a changed tensor through when the change kept its chunk's checksum.
public enum Checkpoint {
    public static let formatVersion: Int64 = 2
    /// Versions this tool reads: the current one, and 1 (no `state_dict_sha256`).
    static let readableVersions: [Int64] = [1, 2]
    static let digestName = "state_dict_sha256"

    /// Where training stands when a checkpoint is written.
    public struct TrainingState: Equatable, Sendable {
        /// Epochs completed.
        public var epoch: Int
        /// Best validation accuracy so far, and the epoch it came from.
        public var bestAccuracy: Double
        public var bestEpoch: Int
        public init(epoch: Int, bestAccuracy: Double, bestEpoch: Int) {
            self.epoch = epoch; self.bestAccuracy = bestAccuracy; self.bestEpoch = bestEpoch
        }
    }

    /// Writes the model, optimizer and training state to `path` atomically.
    public static func save(_ path: String, model: Model, optimizer: Optimizer?, state: TrainingState, datasetFingerprint: String) throws {
        try AtomicWrite.write(to: path) { tmp in
            let f = try HDF5File.create(tmp)
            var digest = StateDictDigest()
            for (slot, e) in model.store.entries.enumerated().sorted(by: { StateDictDigest.inOrder($0.element.name, $1.element.name) }) {
                let values = Array(UnsafeBufferPointer(start: model.store.value(slot), count: e.count))
                if e.kind == .counter {
                    let counts = values.map { Int64($0) }
                    digest.add(e.name, counts)
                    try f.write(e.name, counts, shape: e.shape)
                } else {
                    digest.add(e.name, values)
                    try f.write(e.name, values, shape: e.shape)
                }
            }
            try f.setAttribute("format_version", .int(formatVersion))
            try f.setAttribute(digestName, .string(digest.hex))
            try f.setAttribute("model_version", .string(model.name))
            try f.setAttribute("num_classes", .int(Int64(model.numClasses)))
            try f.setAttribute("input_shape", .string(model.inputShape.map(String.init).joined(separator: "x")))
            try f.setAttribute("dataset_fingerprint", .string(datasetFingerprint))
            try f.createGroup("training")
            try f.setAttribute("epoch", .int(Int64(state.epoch)), on: "training")
            try f.setAttribute("best_accuracy", .double(state.bestAccuracy), on: "training")
            try f.setAttribute("best_epoch", .int(Int64(state.bestEpoch)), on: "training")
            let rngs = model.dropoutLayers.flatMap { d -> [Int64] in
                let s = d.rng.state
                return [s.0, s.1, s.2, s.3].map { Int64(bitPattern: $0) }
            }
            if !rngs.isEmpty { try f.write("training/dropout_rng", rngs, shape: [rngs.count / 4, 4]) }
            if let state = optimizer?.state() {
                try f.createGroup("optimizer")
                try f.setAttribute("kind", .string(state.kind.rawValue), on: "optimizer")
                try f.setAttribute("step", .int(Int64(state.step)), on: "optimizer")
                if !state.firstMoment.isEmpty { try f.write("optimizer/first_moment", state.firstMoment, shape: [state.firstMoment.count]) }
                if !state.secondMoment.isEmpty { try f.write("optimizer/second_moment", state.secondMoment, shape: [state.secondMoment.count]) }
            }
            try f.close()
        }
    }

    /// Loads weights (and, when given, optimizer state) from `path` into `model`. A checkpoint
    /// of another architecture or class count is an error naming the file and the first tensor
    /// that does not fit.
    @discardableResult
    public static func load(_ path: String, into model: Model, optimizer: Optimizer? = nil) throws -> TrainingState {
        let f = try HDF5File.open(path)
        guard let version = try? f.intAttribute("format_version"), readableVersions.contains(version) else {
            throw KDError(file: path, "not a checkpoint of this tool (format_version missing or not \(readableVersions.map(String.init).joined(separator: " or ")))")
        }
        let saved = (try? f.stringAttribute("model_version")) ?? "?"
        for e in model.store.entries {
            guard f.exists(e.name) else {
                throw KDError(file: path, "checkpoint of '\(saved)' has no tensor '\(e.name)' that \(model.name) needs (another architecture?)")
            }
            let shape = try f.shape(of: e.name)
            guard shape == e.shape else {
                throw KDError(file: path, "tensor '\(e.name)' has shape \(shape), \(model.name) needs \(e.shape) (another architecture or class count?)")
            }
        }
        let tensors = try readStateDict(f)
        if version >= 2 {
            guard try StateDictDigest(tensors).hex == f.stringAttribute(digestName) else {
                throw KDError(file: path, "its tensors do not match the checksum written with them (\(digestName)): the file is damaged or was changed")
            }
        }
        for e in model.store.entries { try model.store.set(e.name, tensors[e.name]!.floats) }
        if f.exists("training/dropout_rng") {
            let raw = try f.read("training/dropout_rng", as: Int64.self).values.map { UInt64(bitPattern: $0) }
            for (i, d) in model.dropoutLayers.enumerated() where raw.count >= 4 * (i + 1) {
                d.rng = SeededRNG(state: (raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]))
            }
        }
        if let optimizer, f.exists("optimizer") {
            let name = try f.stringAttribute("kind", of: "optimizer")
            guard let kind = Optimizer.Kind(rawValue: name) else { throw KDError(file: path, "unknown optimizer '\(name)'") }
            let saved = Optimizer.State(kind: kind, step: Int(try f.intAttribute("step", of: "optimizer")),
                                        firstMoment: f.exists("optimizer/first_moment") ? try f.read("optimizer/first_moment", as: Float.self).values : [],
                                        secondMoment: f.exists("optimizer/second_moment") ? try f.read("optimizer/second_moment", as: Float.self).values : [])
            do {
                try optimizer.restore(saved)
            } catch let error as KDError {
                throw KDError(file: path, error.message)
            }
        }
        return TrainingState(epoch: Int(try f.intAttribute("epoch", of: "training")),
                             bestAccuracy: try f.doubleAttribute("best_accuracy", of: "training"),
                             bestEpoch: Int(try f.intAttribute("best_epoch", of: "training")))
    }

    /// Every dataset at the root of `f` (the state_dict), as stored: float32, or int64 counters.
    static func readStateDict(_ f: HDF5File) throws -> [String: StateDictDigest.Tensor] {
        var tensors: [String: StateDictDigest.Tensor] = [:]
        for name in try f.children() where try !f.isGroup(name) {
            tensors[name] = try f.isInteger(name) ? .counts(f.read(name, as: Int64.self).values) : .floats(f.read(name, as: Float.self).values)
        }
        return tensors
    }

    /// The number of completed epochs recorded in a checkpoint.
    public static func peekEpoch(_ path: String) throws -> Int {
        Int(try HDF5File.open(path).intAttribute("epoch", of: "training"))
    }

    /// SHA-256 (hex) of a file's bytes.
    public static func sha256(of path: String) throws -> String {
        var h = SHA256()
        let bytes = try FileBytes.read(path)
        h.update(bytes)
        return h.finalizeHex()
    }
}
