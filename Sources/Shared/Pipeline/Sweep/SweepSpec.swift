import Engine
import Foundation

/// A temperature x alpha x seed sweep, optionally over the soft term too, read from
/// `<sweep dir>/sweep.json`:
///
///     {"base": {... student params.json keys ...},
///      "grid": {"temperature": [1, 2, 4, 8, 20], "alpha": [0.5, 0.9, 0.99], "seed": [1, 2, 3],
///               "kd_method": ["kd", "dkd"], "logit_standardization": [false, true], "dkd_beta": [2, 8],
///               "at_weight": [0, 1000]},
///      "scratch": true}
///
/// The last four axes (`SweepAxis`) are optional (without them every point uses the base's setting), and
/// `dkd_beta` multiplies DKD points only. Every grid point becomes a child run directory
/// `[<variant>_]alpha_<a>_T_<t>_seed_<s>/params.json`, where the variant names the axes the
/// grid varies (`dkd_beta_8_ls`, `kd_at_1000`, ...); with `scratch`, `scratch_seed_<s>/` runs alpha 0
/// for each seed. All children share the base params' teacher export (`teacher_logits`,
/// relative to the sweep folder).
public struct SweepSpec: Sendable {
    public var base: [String: JSONValue]
    public var temperatures: [Double]
    public var alphas: [Double]
    public var seeds: [Int]
    /// The optional axes the grid varies, with their values (`SweepAxis`).
    public var axes: [SweepAxis: [SweepAxis.Value]]
    public var scratch: Bool
    /// The base's soft term: where a point's variant does not say, this holds.
    var baseMethod = DistillationLoss.Method.kd

    /// One child run of the sweep.
    public struct Point: Equatable, Sendable {
        public var alpha: Double
        public var temperature: Double
        public var seed: Int
        /// The point's values on the optional axes the grid varies (none for scratch).
        public var values: [SweepAxis: SweepAxis.Value]
        public var isScratch: Bool { alpha == 0 }

        public init(alpha: Double, temperature: Double, seed: Int, values: [SweepAxis: SweepAxis.Value] = [:]) {
            self.alpha = alpha; self.temperature = temperature; self.seed = seed; self.values = values
        }

        /// The point without its seed: what a results row groups.
        public var configuration: Point { var c = self; c.seed = 0; return c }

        /// The varied axes as a name part: "dkd_beta_8_ls", "kd", "ls", or "".
        var variant: String {
            SweepAxis.allCases.compactMap { axis in values[axis].flatMap { axis.folderPart($0) } }.joined(separator: "_")
        }

        /// `alpha_0.9_T_4_seed_1`, `dkd_ls_alpha_0.5_T_2_seed_1` or `scratch_seed_1`.
        public var directoryName: String {
            if isScratch { return "scratch_seed_\(seed)" }
            return (variant.isEmpty ? "" : variant + "_") + "alpha_\(numberText(alpha))_T_\(numberText(temperature))_seed_\(seed)"
        }

        /// The varied soft-term axes in words: "DKD beta 8 + LS", "KD", "LS"; nil when the grid
        /// varies none (or for scratch).
        public var softTermLabel: String? {
            guard !isScratch else { return nil }
            let name = SweepAxis.allCases.reduce("") { name, axis in name + (values[axis].flatMap { axis.labelPart($0, after: name) } ?? "") }
            return name.isEmpty ? nil : name
        }

        /// "alpha 0.9, T 4", "DKD beta 8 + LS, alpha 0.5, T 2" or "scratch".
        public var label: String {
            if isScratch { return "scratch" }
            return (softTermLabel.map { $0 + ", " } ?? "") + "alpha \(numberText(alpha)), T \(numberText(temperature))"
        }

        /// Whether two points differ in alpha, T or seed only (the heatmap's cells).
        public func sameSoftTerm(as other: Point) -> Bool { values == other.values }

    }

    /// The axes `grid` may hold.
    static let axes = ["temperature", "alpha", "seed"] + SweepAxis.allCases.map(\.rawValue)

    public static func load(_ path: String) throws -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: path) else { throw KDError(file: path, "file not found") }
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw KDError(file: path, "not valid JSON (\(JSONValue.describe(error)))")
        }
        guard case .object(let top) = value else { throw KDError(file: path, "must hold a JSON object") }
        if let unknown = top.keys.sorted().first(where: { !["base", "grid", "scratch"].contains($0) }) {
            throw KDError(file: path, "unknown key '\(unknown)' (expected base, grid, scratch)")
        }
        guard case .object(let base)? = top["base"] else { throw KDError(file: path, "key 'base': expected an object of params.json settings") }
        guard case .object(let grid)? = top["grid"] else { throw KDError(file: path, "key 'grid': expected an object with temperature, alpha and seed lists") }
        var scratch = true
        if let s = top["scratch"] {
            guard case .bool(let b) = s else { throw KDError(file: path, "key 'scratch': expected true or false") }
            scratch = b
        }
        var spec = try SweepSpec(base: base, grid: GridReader(grid: grid, path: path), scratch: scratch)
        try spec.validate(path)
        return spec
    }

}

extension SweepSpec {
    fileprivate init(base: [String: JSONValue], grid g: GridReader, scratch: Bool) throws {
        if let unknown = g.grid.keys.sorted().first(where: { !Self.axes.contains($0) }) {
            throw g.fail("key 'grid': unknown entry '\(unknown)' (expected \(Self.axes.joined(separator: ", ")))")
        }
        for k in Self.axes where base[k] != nil && (g.grid[k] != nil || ["alpha", "temperature", "seed"].contains(k)) {
            throw g.fail("key 'base.\(k)': set by the grid, leave it out of base")
        }
        var axes: [SweepAxis: [SweepAxis.Value]] = [:]
        for axis in SweepAxis.allCases { axes[axis] = try g.values(axis) }
        self.init(base: base, temperatures: try g.numbers("temperature"), alphas: try g.numbers("alpha"),
                  seeds: try g.numbers("seed").map { Int($0) }, axes: axes, scratch: scratch)
    }

    /// The checks across the grid and the base, and every child's params decoded, so that a bad
    /// base fails before any run starts.
    fileprivate mutating func validate(_ path: String) throws {
        baseMethod = try Params(dictionary: base.filter { $0.key == "kd_method" }, file: path + " (base)").kdMethod
        if axes[.dkdBeta] != nil, !methods.contains(.dkd) {
            throw KDError(file: path, "key 'grid.dkd_beta': applies to DKD points only, and the sweep has none (add \"dkd\" to grid.kd_method)")
        }
        for point in points {
            _ = try Params(dictionary: params(for: point, relativeDepth: 1), file: path + " (base)")
        }
        if let bad = alphas.first(where: { $0 <= 0 || $0 > 1 }) {
            throw KDError(file: path, "key 'grid.alpha': \(bad) is outside (0, 1] (the scratch baseline is 'scratch': true)")
        }
    }

    /// Typed reads of `grid`'s lists, with errors naming the file and the entry.
    fileprivate struct GridReader {
        let grid: [String: JSONValue]
        let path: String

        func fail(_ message: String) -> KDError { KDError(file: path, message) }

        func list(_ key: String) throws -> [JSONValue]? {
            guard let v = grid[key] else { return nil }
            guard case .array(let a) = v, !a.isEmpty else { throw fail("key 'grid.\(key)': expected a non-empty list") }
            return a
        }

        func numbers(_ key: String) throws -> [Double] {
            guard case .array(let a)? = grid[key], !a.isEmpty else { throw fail("key 'grid.\(key)': expected a non-empty list of numbers") }
            return try a.map {
                guard case .number(let x) = $0 else { throw fail("key 'grid.\(key)': expected numbers, found \($0.typeName)") }
                return x
            }
        }

        /// The values of `axis`'s list, or nil where the grid leaves it out.
        func values(_ axis: SweepAxis) throws -> [SweepAxis.Value]? {
            try list(axis.rawValue)?.map { v in
                guard let value = axis.value(v) else { throw fail("key 'grid.\(axis.rawValue)': expected \(axis.expected), found \(v.jsonText)") }
                return value
            }
        }
    }

}

extension SweepSpec {
    /// The soft terms the distillation points take: the grid's, or the base's.
    var methods: [DistillationLoss.Method] {
        axes[.kdMethod]?.compactMap { if case .method(let m) = $0 { return m } else { return nil } } ?? [baseMethod]
    }

    /// Every child: distillation points (the optional axes in `SweepAxis` order, then alpha, T,
    /// seed), then scratch per seed.
    public var points: [Point] {
        var variants: [[SweepAxis: SweepAxis.Value]] = [[:]]
        for axis in SweepAxis.allCases {
            guard let values = axes[axis] else { continue }
            variants = variants.flatMap { v -> [[SweepAxis: SweepAxis.Value]] in
                guard axis.applies(to: v.method ?? baseMethod) else { return [v] }
                return values.map { v.merging([axis: $0]) { $1 } }
            }
        }
        var p: [Point] = []
        for v in variants {
            for a in alphas { for t in temperatures { for s in seeds { p.append(Point(alpha: a, temperature: t, seed: s, values: v)) } } }
        }
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
            for (axis, value) in point.values { p[axis.rawValue] = value.json }
        }
        return p
    }
}

extension [SweepAxis: SweepAxis.Value] {
    /// The soft term these values set, if they set one.
    var method: DistillationLoss.Method? {
        if case .method(let m)? = self[.kdMethod] { return m }
        return nil
    }
}
