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
/// The last four axes are optional (without them every point uses the base's setting), and
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
    /// The optional soft-term axes; nil where the grid does not vary it.
    public var methods: [DistillationLoss.Method]?
    public var standardizations: [Bool]?
    public var dkdBetas: [Double]?
    public var atWeights: [Double]?
    public var scratch: Bool
    /// The base's soft term: where a point's variant does not say, this holds.
    var baseMethod = DistillationLoss.Method.kd

    /// One child run of the sweep.
    public struct Point: Equatable, Sendable {
        public var alpha: Double
        public var temperature: Double
        public var seed: Int
        /// The soft term, where the grid varies it (nil: the base's).
        public var method: DistillationLoss.Method?
        public var standardize: Bool?
        public var dkdBeta: Double?
        /// Attention transfer's weight, where the grid varies it.
        public var atWeight: Double?
        public var isScratch: Bool { alpha == 0 }

        public init(alpha: Double, temperature: Double, seed: Int, method: DistillationLoss.Method? = nil,
                    standardize: Bool? = nil, dkdBeta: Double? = nil, atWeight: Double? = nil) {
            self.alpha = alpha; self.temperature = temperature; self.seed = seed
            self.method = method; self.standardize = standardize; self.dkdBeta = dkdBeta; self.atWeight = atWeight
        }

        /// The point without its seed: what a results row groups.
        public var configuration: Point { var c = self; c.seed = 0; return c }

        /// The varied soft-term axes as a name part: "dkd_beta_8_ls", "kd", "ls", or "".
        var variant: String {
            var parts: [String] = []
            if let method { parts.append(method.rawValue) }
            if let dkdBeta { parts.append("beta_\(numberText(dkdBeta))") }
            if standardize == true { parts.append("ls") }
            if let atWeight { parts.append("at_\(numberText(atWeight))") }
            return parts.joined(separator: "_")
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
            var name = method.map { $0.rawValue.uppercased() } ?? ""
            if let dkdBeta { name += " beta \(numberText(dkdBeta))" }
            if standardize == true { name += name.isEmpty ? "LS" : " + LS" }
            if let atWeight { name += (name.isEmpty ? "" : " + ") + "AT \(numberText(atWeight))" }
            return name.isEmpty ? nil : name
        }

        /// "alpha 0.9, T 4", "DKD beta 8 + LS, alpha 0.5, T 2" or "scratch".
        public var label: String {
            if isScratch { return "scratch" }
            return (softTermLabel.map { $0 + ", " } ?? "") + "alpha \(numberText(alpha)), T \(numberText(temperature))"
        }

        /// Whether two points differ in alpha, T or seed only (the heatmap's cells).
        public func sameSoftTerm(as other: Point) -> Bool {
            method == other.method && standardize == other.standardize && dkdBeta == other.dkdBeta && atWeight == other.atWeight
        }

    }

    /// The axes `grid` may hold.
    static let axes = ["temperature", "alpha", "seed", "kd_method", "logit_standardization", "dkd_beta", "at_weight"]

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
        self.init(base: base, temperatures: try g.numbers("temperature"), alphas: try g.numbers("alpha"),
                  seeds: try g.numbers("seed").map { Int($0) }, methods: try g.methods(), standardizations: try g.flags("logit_standardization"),
                  dkdBetas: g.grid["dkd_beta"] == nil ? nil : try g.numbers("dkd_beta"),
                  atWeights: g.grid["at_weight"] == nil ? nil : try g.numbers("at_weight"), scratch: scratch)
    }

    /// The checks across the grid and the base, and every child's params decoded, so that a bad
    /// base fails before any run starts.
    fileprivate mutating func validate(_ path: String) throws {
        baseMethod = try Params(dictionary: base.filter { $0.key == "kd_method" }, file: path + " (base)").kdMethod
        if dkdBetas != nil, !(methods ?? [baseMethod]).contains(.dkd) {
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

        func flags(_ key: String) throws -> [Bool]? {
            try list(key)?.map { v in
                guard case .bool(let b) = v else { throw fail("key 'grid.\(key)': expected true or false, found \(v.typeName)") }
                return b
            }
        }

        func methods() throws -> [DistillationLoss.Method]? {
            try list("kd_method")?.map { v in
                guard case .string(let s) = v, let m = DistillationLoss.Method(rawValue: s) else {
                    throw fail("key 'grid.kd_method': expected names among \(DistillationLoss.Method.allCases.map(\.rawValue).joined(separator: ", ")), found \(v)")
                }
                return m
            }
        }
    }

}

extension SweepSpec {
    /// Every child: distillation points (soft term, then alpha, T, seed), then scratch per seed.
    public var points: [Point] {
        var p: [Point] = []
        for method in methods.map({ $0.map(Optional.some) }) ?? [nil] {
            let betas: [Double?] = (method ?? baseMethod) == .dkd ? dkdBetas.map { $0.map(Optional.some) } ?? [nil] : [nil]
            for beta in betas {
                for standardize in standardizations.map({ $0.map(Optional.some) }) ?? [nil] {
                    for at in atWeights.map({ $0.map(Optional.some) }) ?? [nil] {
                        for a in alphas { for t in temperatures { for s in seeds {
                            p.append(Point(alpha: a, temperature: t, seed: s, method: method, standardize: standardize, dkdBeta: beta, atWeight: at))
                        } } }
                    }
                }
            }
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
            if let m = point.method { p["kd_method"] = .string(m.rawValue) }
            if let b = point.standardize { p["logit_standardization"] = .bool(b) }
            if let b = point.dkdBeta { p["dkd_beta"] = .number(b) }
            if let w = point.atWeight { p["at_weight"] = .number(w) }
        }
        return p
    }
}
