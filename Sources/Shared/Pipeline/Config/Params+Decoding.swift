import Engine
import Foundation

// MARK: - Strict decoding from params.json

extension Params {
    /// Reads and validates `path`, with `overrides` on top of its keys. Every problem is a
    /// one-line `KDError` naming the file (and the overrides, when there are any) and the key.
    public static func load(_ path: String, overrides: ParamsOverrides = ParamsOverrides()) throws -> Params {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KDError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "file not found")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw KDError(file: path, "not valid JSON (\(JSONValue.describe(error)))")
        }
        guard case .object(let dict) = value else { throw KDError(file: path, "must hold a JSON object of settings") }
        if overrides.isEmpty { return try Params(dictionary: dict, file: path) }
        return try Params(dictionary: dict.merging(overrides.values) { $1 }, file: "\(path) with --set \(overrides.summary)")
    }
}

extension Params {
    /// Decodes a parsed params.json object; `file` names the source in errors.
    public init(dictionary d: [String: JSONValue], file: String) throws {
        self.init()
        if let unknown = d.keys.sorted().first(where: { !Params.keys.contains($0) }) {
            let hint = Params.keys.min { editDistance($0, unknown) < editDistance($1, unknown) }
                .flatMap { editDistance($0, unknown) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? ""
            throw KDError(file: file, "unknown key '\(unknown)'\(hint)")
        }
        let reader = KeyReader(d, file: file)
        for key in Params.table { try key.read(reader, &self) }
        if modelSpec != nil && d["model_version"] == nil { modelVersion = Self.specName(modelSpec!) }
        try validate(file: file)
    }

    /// The checks across keys, after each key was read.
    func validate(file: String) throws {
        func fail(_ message: String) -> KDError { KDError(file: file, message) }
        if (normalizationMean == nil) != (normalizationStd == nil) {
            throw fail("keys 'normalization_mean' and 'normalization_std' go together: give both or neither")
        }
        if let mean = normalizationMean, let std = normalizationStd {
            guard mean.count == std.count else { throw fail("key 'normalization_std': \(std.count) values, 'normalization_mean' has \(mean.count)") }
            guard std.allSatisfy({ $0 > 0 }) else { throw fail("key 'normalization_std': every value must be above 0") }
        }
        if syncBatchnorm && microBatches > 1 {
            throw fail("keys 'sync_batchnorm' and 'micro_batches': the parts of a batch run one after another, so their BatchNorm statistics cannot be shared; use one of them")
        }
        guard microBatches <= batchSize else { throw fail("key 'micro_batches': \(microBatches) parts of a batch of \(batchSize)") }
        if kdMethod == .dkd && klReduction != .batchmean {
            throw fail("key 'kl_reduction': DKD averages over the batch only ('batchmean'); '\(klReduction.rawValue)' applies to kd_method 'kd'")
        }
        if !frozen.isEmpty && !trainable.isEmpty {
            throw fail("keys 'frozen' and 'trainable': give one of them (trainable freezes everything it does not name)")
        }
        if !reinit.isEmpty && initFrom == nil {
            throw fail("key 'reinit': it names what 'init_from' does not load, and 'init_from' is not set")
        }
        guard modelSpec != nil || ModelRegistry.builders[modelVersion] != nil else {
            throw fail("key 'model_version': unknown model '\(modelVersion)' (known: \(ModelRegistry.names.joined(separator: ", ")))")
        }
    }
}

extension Params {
    /// The name a `model_spec` gives the model when `model_version` does not: its `name`, or
    /// the stem of the file it names.
    static func specName(_ spec: JSONValue) -> String {
        switch spec {
        case .object(let d): if case .string(let name)? = d["name"] { return name }
        case .string(let path): return ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        default: break
        }
        return "model_spec"
    }
}
