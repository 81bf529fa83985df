import Engine
import Foundation

/// A temperature x alpha x seed sweep, read from `<sweep dir>/sweep.json`:
///
///     {"base": {... student params.json keys ...},
///      "grid": {"temperature": [1, 2, 4, 8, 20], "alpha": [0.5, 0.9, 0.99], "seed": [1, 2, 3]},
///      "scratch": true}
///
/// Every grid point becomes a child run directory `alpha_<a>_T_<t>_seed_<s>/params.json`;
/// with `scratch`, `scratch_seed_<s>/` runs alpha 0 for each seed. All children share the base
/// params' teacher export (`teacher_logits`, relative to the sweep folder).
public struct SweepSpec: Sendable {
    public var base: [String: JSONValue]
    public var temperatures: [Double]
    public var alphas: [Double]
    public var seeds: [Int]
    public var scratch: Bool

    /// One child run of the sweep.
    public struct Point: Equatable, Sendable {
        public var alpha: Double
        public var temperature: Double
        public var seed: Int
        public var isScratch: Bool { alpha == 0 }

        /// `alpha_0.9_T_4_seed_1` or `scratch_seed_1`.
        public var directoryName: String {
            isScratch ? "scratch_seed_\(seed)" : "alpha_\(Self.number(alpha))_T_\(Self.number(temperature))_seed_\(seed)"
        }

        public static func number(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
    }

    public static func load(_ path: String) throws -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: path) else { throw PipelineError(file: path, "file not found") }
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw PipelineError(file: path, "not valid JSON (\(JSONValue.describe(error)))")
        }
        guard case .object(let top) = value else { throw PipelineError(file: path, "must hold a JSON object") }
        if let unknown = top.keys.sorted().first(where: { !["base", "grid", "scratch"].contains($0) }) {
            throw PipelineError(file: path, "unknown key '\(unknown)' (expected base, grid, scratch)")
        }
        guard case .object(let base)? = top["base"] else { throw PipelineError(file: path, "key 'base': expected an object of params.json settings") }
        guard case .object(let grid)? = top["grid"] else { throw PipelineError(file: path, "key 'grid': expected an object with temperature, alpha and seed lists") }
        if let unknown = grid.keys.sorted().first(where: { !["temperature", "alpha", "seed"].contains($0) }) {
            throw PipelineError(file: path, "key 'grid': unknown entry '\(unknown)' (expected temperature, alpha, seed)")
        }
        func list(_ key: String) throws -> [Double] {
            guard case .array(let a)? = grid[key], !a.isEmpty else { throw PipelineError(file: path, "key 'grid.\(key)': expected a non-empty list of numbers") }
            return try a.map {
                guard case .number(let x) = $0 else { throw PipelineError(file: path, "key 'grid.\(key)': expected numbers, found \($0.typeName)") }
                return x
            }
        }
        var scratch = true
        if let s = top["scratch"] {
            guard case .bool(let b) = s else { throw PipelineError(file: path, "key 'scratch': expected true or false") }
            scratch = b
        }
        for k in ["alpha", "temperature", "seed"] where base[k] != nil {
            throw PipelineError(file: path, "key 'base.\(k)': set by the grid, leave it out of base")
        }
        let spec = SweepSpec(base: base, temperatures: try list("temperature"), alphas: try list("alpha"),
                             seeds: try list("seed").map { Int($0) }, scratch: scratch)
        // Validate one child's params now, so a bad base fails before any run starts.
        for point in spec.points.prefix(1) {
            _ = try Params(dictionary: spec.params(for: point, relativeDepth: 1), file: path + " (base)")
        }
        if let bad = spec.alphas.first(where: { $0 <= 0 || $0 > 1 }) {
            throw PipelineError(file: path, "key 'grid.alpha': \(bad) is outside (0, 1] (the scratch baseline is 'scratch': true)")
        }
        return spec
    }

    /// Every child, KD points first (alpha, then T, then seed), then scratch per seed.
    public var points: [Point] {
        var p: [Point] = []
        for a in alphas { for t in temperatures { for s in seeds { p.append(Point(alpha: a, temperature: t, seed: s)) } } }
        if scratch { for s in seeds { p.append(Point(alpha: 0, temperature: 1, seed: s)) } }
        return p
    }

    /// The child's params: base plus the point; a relative `teacher_logits` or `data_dir` is
    /// re-anchored one folder deeper.
    public func params(for point: Point, relativeDepth: Int = 1) -> [String: JSONValue] {
        var p = base
        for key in ["teacher_logits", "data_dir"] {
            if case .string(let s)? = p[key], !s.hasPrefix("/") {
                p[key] = .string(String(repeating: "../", count: relativeDepth) + s)
            }
        }
        p["alpha"] = .number(point.alpha)
        p["seed"] = .number(Double(point.seed))
        if point.isScratch {
            p.removeValue(forKey: "teacher_logits")
        } else {
            p["temperature"] = .number(point.temperature)
        }
        return p
    }
}

extension JSONValue {
    /// Back to Foundation objects, for JSONSerialization.
    public var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n as Any
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationObject)
        case .object(let o): return o.mapValues(\.foundationObject)
        }
    }
}
