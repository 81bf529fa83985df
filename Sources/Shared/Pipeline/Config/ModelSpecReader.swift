import Engine
import Foundation

/// Reads a `model_spec` (params.json's inline object, or the JSON file it names) into a
/// `NetworkSpec`. Each layer is an object with a `type` and that type's keys, PyTorch's names
/// and defaults (README, "Networks described in JSON"); an unknown type or key, a missing or
/// mistyped value is one line naming the file and the layer by its state_dict path.
public enum ModelSpecReader {
    /// Reads `value`; a string is a file path, relative to `folder`.
    public static func read(_ value: JSONValue, file: String, folder: String) throws -> NetworkSpec {
        switch value {
        case .object(let d):
            return try spec(d, file: file, defaultName: "model_spec")
        case .string(let path):
            let full = path.hasPrefix("/") ? path : folder + "/" + path
            guard let data = FileManager.default.contents(atPath: full) else { throw KDError(file: full, "cannot read the model_spec file") }
            let parsed: JSONValue
            do { parsed = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
                throw KDError(file: full, "not valid JSON (\(JSONValue.describe(error)))")
            }
            guard case .object(let d) = parsed else { throw KDError(file: full, "expected a JSON object with \"layers\"") }
            return try spec(d, file: full, defaultName: ((path as NSString).lastPathComponent as NSString).deletingPathExtension)
        default:
            throw KDError(file: file, "key 'model_spec': expected an object or a file name, found \(value.typeName)")
        }
    }

    static func spec(_ d: [String: JSONValue], file: String, defaultName: String) throws -> NetworkSpec {
        let r = KeyReader(d, file: file + ": model_spec")
        try r.only(["name", "layers", "description"])
        guard case .array(let list)? = d["layers"], !list.isEmpty else { throw r.fail("layers", "expected a non-empty list of layers") }
        return NetworkSpec(name: try r.string("name") ?? defaultName, layers: try entries(list, prefix: "", file: file))
    }

    static func entries(_ list: [JSONValue], prefix: String, file: String) throws -> [NetworkSpec.Entry] {
        try list.enumerated().map { i, value in
            guard case .object(let d) = value else {
                throw KDError(file: file, "model_spec: layer \(prefix)\(i): expected an object with a \"type\", found \(value.typeName)")
            }
            let name: String?
            if case .string(let s)? = d["name"] { name = s } else { name = nil }
            return NetworkSpec.Entry(try layer(d, path: prefix + (name ?? "\(i)"), file: file), name: name)
        }
    }

    static let keysByType: [String: [String]] = [
        "conv": ["out", "kernel", "stride", "padding", "groups", "bias"], "batchnorm": ["eps", "momentum"],
        "relu": [], "relu6": [], "leaky_relu": ["negative_slope"], "maxpool": ["kernel", "stride", "padding"],
        "avgpool": ["kernel", "stride", "padding"], "global_avgpool": [], "flatten": [], "linear": ["out", "bias"],
        "dropout": ["p"], "sequential": ["layers"], "residual": ["body", "shortcut", "relu_after", "body_name"],
    ]

    static func layer(_ d: [String: JSONValue], path: String, file: String) throws -> LayerSpec {
        guard case .string(let type)? = d["type"], let keys = keysByType[type] else {
            let known = keysByType.keys.sorted().joined(separator: ", ")
            throw KDError(file: file, "model_spec: layer \(path): \"type\" must be one of \(known)")
        }
        let r = KeyReader(d, file: "\(file): model_spec: layer \(path) (\(type))")
        try r.only(["type", "name"] + keys)
        func required(_ key: String) throws -> Int {
            guard let v = try r.int(key, 1...65536) else { throw r.fail(key, "missing") }
            return v
        }
        switch type {
        case "conv":
            return .conv(out: try r.widthOrClasses("out"), kernel: try required("kernel"), stride: try r.int("stride", 1...4096) ?? 1,
                         padding: try r.int("padding", 0...4096) ?? 0, groups: try r.int("groups", 1...65536) ?? 1, bias: try r.flag("bias") ?? true)
        case "batchnorm":
            return .batchNorm(epsilon: Float(try r.double("eps", 1e-12...1) ?? 1e-5), momentum: Float(try r.double("momentum", 0...1) ?? 0.1))
        case "relu": return .relu
        case "relu6": return .relu6
        case "leaky_relu": return .leakyReLU(slope: Float(try r.double("negative_slope", 0...1e6) ?? 0.01))
        case "maxpool", "avgpool":
            let kernel = try required("kernel")
            let stride = try r.int("stride", 1...4096) ?? kernel, padding = try r.int("padding", 0...4096) ?? 0
            return type == "maxpool" ? .maxPool(kernel: kernel, stride: stride, padding: padding) : .avgPool(kernel: kernel, stride: stride, padding: padding)
        case "global_avgpool": return .globalAvgPool
        case "flatten": return .flatten
        case "linear":
            guard d["out"] != nil else { throw r.fail("out", "missing (a number, or \"classes\")") }
            return .linear(out: try r.widthOrClasses("out"), bias: try r.flag("bias") ?? true)
        case "dropout": return .dropout(probability: Float(try r.double("p", 0...1, openUpper: true) ?? 0.5))
        default:
            return try container(type, d, r, path: path, file: file)
        }
    }

    static func container(_ type: String, _ d: [String: JSONValue], _ r: KeyReader, path: String, file: String) throws -> LayerSpec {
        func list(_ key: String) throws -> [NetworkSpec.Entry]? {
            guard let v = d[key], v != .null else { return nil }
            guard case .array(let a) = v, !a.isEmpty else { throw r.fail(key, "expected a non-empty list of layers, found \(v.typeName)") }
            let child = key == "body" ? (try r.string("body_name") ?? "body") : key
            return try entries(a, prefix: path + "." + (type == "residual" ? child + "." : ""), file: file)
        }
        if type == "sequential" {
            guard let layers = try list("layers") else { throw r.fail("layers", "missing") }
            return .sequential(layers)
        }
        guard let body = try list("body") else { throw r.fail("body", "missing") }
        return .residual(body: body, shortcut: try list("shortcut"), reluAfter: try r.flag("relu_after") ?? false,
                         bodyName: try r.string("body_name") ?? "body")
    }
}

extension KeyReader {
    /// Refuses keys outside `known`, naming the first one.
    func only(_ known: [String]) throws {
        if let unknown = d.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail(unknown, "unknown key (known: \(known.joined(separator: ", ")))")
        }
    }

    /// A width, or "classes" for the dataset's class count (nil).
    func widthOrClasses(_ key: String) throws -> Int? {
        if case .string(let s)? = d[key] {
            guard s == "classes" else { throw fail(key, "expected a number or \"classes\", found \"\(s)\"") }
            return nil
        }
        guard let v = try int(key, 1...1_000_000) else { throw fail(key, "missing") }
        return v
    }
}
