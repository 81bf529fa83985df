import Engine
import Foundation

// MARK: - Strict decoding from params.json

extension Params {
    /// Reads and validates `path`, with `overrides` on top of its keys. Every problem is a
    /// one-line `PipelineError` naming the file (and the overrides, when there are any) and the key.
    public static func load(_ path: String, overrides: ParamsOverrides = ParamsOverrides()) throws -> Params {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "file not found")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw PipelineError(file: path, "not valid JSON (\(JSONValue.describe(error)))")
        }
        guard case .object(let dict) = value else { throw PipelineError(file: path, "must hold a JSON object of settings") }
        if overrides.isEmpty { return try Params(dictionary: dict, file: path) }
        return try Params(dictionary: dict.merging(overrides.values) { $1 }, file: "\(path) with --set \(overrides.summary)")
    }

    /// Decodes a parsed params.json object; `file` names the source in errors.
    public init(dictionary d: [String: JSONValue], file: String) throws {
        self.init()
        if let unknown = d.keys.sorted().first(where: { !Params.keys.contains($0) }) {
            let hint = Params.keys.min { editDistance($0, unknown) < editDistance($1, unknown) }
                .flatMap { editDistance($0, unknown) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? ""
            throw PipelineError(file: file, "unknown key '\(unknown)'\(hint)")
        }
        let r = KeyReader(d, file: file)
        modelVersion = try r.string("model_version") ?? modelVersion
        numChannels = try r.int("num_channels", 1...4096) ?? numChannels
        dropoutRate = Float(try r.double("dropout_rate", 0...0.99) ?? Double(dropoutRate))
        if let name = try r.string("dataset") {
            guard let kind = DatasetKind(rawValue: name) else {
                throw PipelineError(file: file, "key 'dataset': unknown dataset '\(name)' (known: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            dataset = kind
        }
        dataDir = try r.string("data_dir")
        subsetPercent = try r.double("subset_percent", 0...1, openLower: true) ?? subsetPercent
        valSize = try r.int("val_size", 0...1_000_000)
        splitSeed = UInt64(try r.int("split_seed", 0...Int.max) ?? Int(splitSeed))
        augmentation = try r.flag("augmentation") ?? augmentation
        imageSize = try r.int("image_size", 1...4096) ?? imageSize
        colorMode = try r.choice("color_mode", ColorMode.self) ?? colorMode
        imageCacheDir = try r.string("image_cache_dir")
        skipBadImages = try r.flag("skip_bad_images") ?? skipBadImages
        normalizationMean = try r.doubleList("normalization_mean")
        normalizationStd = try r.doubleList("normalization_std")
        if (normalizationMean == nil) != (normalizationStd == nil) {
            throw PipelineError(file: file, "keys 'normalization_mean' and 'normalization_std' go together: give both or neither")
        }
        if let mean = normalizationMean, let std = normalizationStd {
            guard mean.count == std.count else {
                throw PipelineError(file: file, "key 'normalization_std': \(std.count) values, 'normalization_mean' has \(mean.count)")
            }
            guard std.allSatisfy({ $0 > 0 }) else { throw PipelineError(file: file, "key 'normalization_std': every value must be above 0") }
        }
        seed = UInt64(try r.int("seed", 0...Int.max) ?? Int(seed))
        batchSize = try r.int("batch_size", 1...65536) ?? batchSize
        microBatches = try r.int("micro_batches", 1...65536) ?? microBatches
        syncBatchnorm = try r.flag("sync_batchnorm") ?? syncBatchnorm
        if syncBatchnorm && microBatches > 1 {
            throw PipelineError(file: file, "keys 'sync_batchnorm' and 'micro_batches': the parts of a batch run one after another, so their BatchNorm statistics cannot be shared; use one of them")
        }
        guard microBatches <= batchSize else {
            throw PipelineError(file: file, "key 'micro_batches': \(microBatches) parts of a batch of \(batchSize)")
        }
        numEpochs = try r.int("num_epochs", 1...100_000) ?? numEpochs
        optimizer = try r.choice("optimizer", Optimizer.Kind.self) ?? optimizer
        learningRate = try r.double("learning_rate", 0...10, openLower: true) ?? learningRate
        momentum = try r.double("momentum", 0...1, openUpper: true) ?? momentum
        nesterov = try r.flag("nesterov") ?? nesterov
        weightDecay = try r.double("weight_decay", 0...1) ?? weightDecay
        lrSchedule = try r.choice("lr_schedule", LRSchedule.Kind.self) ?? lrSchedule
        lrStepSize = try r.int("lr_step_size", 1...100_000) ?? lrStepSize
        lrGamma = try r.double("lr_gamma", 0...1, openLower: true) ?? lrGamma
        lrMilestones = try r.increasingInts("lr_milestones", 1...100_000) ?? lrMilestones
        lrMin = try r.double("lr_min", 0...10) ?? lrMin
        warmupEpochs = try r.int("warmup_epochs", 0...100_000) ?? warmupEpochs
        alpha = try r.double("alpha", 0...1) ?? alpha
        temperature = try r.double("temperature", Params.temperatureRange) ?? temperature
        klReduction = try r.choice("kl_reduction", DistillationLoss.KLReduction.self) ?? klReduction
        kdMethod = try r.choice("kd_method", DistillationLoss.Method.self) ?? kdMethod
        logitStandardization = try r.flag("logit_standardization") ?? logitStandardization
        dkdAlpha = try r.double("dkd_alpha", 0...1000) ?? dkdAlpha
        dkdBeta = try r.double("dkd_beta", 0...1000) ?? dkdBeta
        dkdWarmup = try r.int("dkd_warmup", 0...100_000) ?? dkdWarmup
        atWeight = try r.double("at_weight", 0...1e9) ?? atWeight
        rkdDistanceWeight = try r.double("rkd_distance_weight", 0...1e9) ?? rkdDistanceWeight
        rkdAngleWeight = try r.double("rkd_angle_weight", 0...1e9) ?? rkdAngleWeight
        if kdMethod == .dkd && klReduction != .batchmean {
            throw PipelineError(file: file, "key 'kl_reduction': DKD averages over the batch only ('batchmean'); '\(klReduction.rawValue)' applies to kd_method 'kd'")
        }
        teacher = try r.string("teacher")
        teacherLogits = try r.string("teacher_logits")
        allowFixedTeacher = try r.flag("allow_fixed_teacher") ?? allowFixedTeacher
        saveSummarySteps = try r.int("save_summary_steps", 1...1_000_000) ?? saveSummarySteps
        guard ModelRegistry.builders[modelVersion] != nil else {
            throw PipelineError(file: file, "key 'model_version': unknown model '\(modelVersion)' (known: \(ModelRegistry.names.joined(separator: ", ")))")
        }
    }
}

/// A parsed JSON value; JSONDecoder tells booleans from numbers, which params need.
public enum JSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The value as compact JSON text.
    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// Typed, range-checked reads of one JSON object's keys, with errors that name file and key.
private struct KeyReader {
    let d: [String: JSONValue]
    let file: String
    init(_ d: [String: JSONValue], file: String) { self.d = d; self.file = file }

    func fail(_ key: String, _ what: String) -> PipelineError { PipelineError(file: file, "key '\(key)': \(what)") }

    private func value(_ key: String) -> JSONValue? {
        guard let v = d[key], v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw fail(key, "expected a string, found \(v.typeName)") }
        return s
    }

    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let n) = v else { throw fail(key, "expected a number, found \(v.typeName)") }
        return n
    }

    func double(_ key: String, _ range: ClosedRange<Double>, openLower: Bool = false, openUpper: Bool = false) throws -> Double? {
        guard let x = try number(key) else { return nil }
        let ok = x.isFinite && (openLower ? x > range.lowerBound : x >= range.lowerBound) && (openUpper ? x < range.upperBound : x <= range.upperBound)
        guard ok else {
            throw fail(key, "\(fmt(x)) is outside \(openLower ? "(" : "[")\(fmt(range.lowerBound)), \(fmt(range.upperBound))\(openUpper ? ")" : "]")")
        }
        return x
    }

    func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let x = try number(key) else { return nil }
        guard x == x.rounded(), let i = Int(exactly: x) else { throw fail(key, "expected a whole number, found \(x)") }
        guard range.contains(i) else {
            throw fail(key, "\(i) is outside [\(range.lowerBound), \(range.upperBound == Int.max ? "inf" : String(range.upperBound))]")
        }
        return i
    }

    func intList(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw fail(key, "expected a list of whole numbers, found \(v.typeName)") }
        return try a.map { e in
            guard case .number(let x) = e, x == x.rounded(), let i = Int(exactly: x) else { throw fail(key, "expected a list of whole numbers") }
            return i
        }
    }

    /// A list of whole numbers in `range`, each above the one before (epochs of a schedule).
    func increasingInts(_ key: String, _ range: ClosedRange<Int>) throws -> [Int]? {
        guard let list = try intList(key) else { return nil }
        guard list.allSatisfy({ range.contains($0) }), zip(list, list.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw fail(key, "\(list) must be increasing, each from \(range.lowerBound) to \(range.upperBound)")
        }
        return list
    }

    func doubleList(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v, !a.isEmpty else { throw fail(key, "expected a list of numbers, found \(v.typeName)") }
        return try a.map { e in
            guard case .number(let x) = e, x.isFinite else { throw fail(key, "expected a list of numbers") }
            return x
        }
    }

    /// true/false, or the classic repository's "yes"/"no".
    func flag(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        if case .bool(let b) = v { return b }
        if case .string(let s) = v, ["yes", "no"].contains(s.lowercased()) { return s.lowercased() == "yes" }
        throw fail(key, "expected true/false (or \"yes\"/\"no\"), found \(v.typeName)")
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let v = T(rawValue: s.lowercased()) else {
            throw fail(key, "'\(s)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    private func fmt(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return row[b.count]
}
