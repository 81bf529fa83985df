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
            if let dkdBeta { parts.append("beta_\(Self.number(dkdBeta))") }
            if standardize == true { parts.append("ls") }
            if let atWeight { parts.append("at_\(Self.number(atWeight))") }
            return parts.joined(separator: "_")
        }

        /// `alpha_0.9_T_4_seed_1`, `dkd_ls_alpha_0.5_T_2_seed_1` or `scratch_seed_1`.
        public var directoryName: String {
            if isScratch { return "scratch_seed_\(seed)" }
            return (variant.isEmpty ? "" : variant + "_") + "alpha_\(Self.number(alpha))_T_\(Self.number(temperature))_seed_\(seed)"
        }

        /// The varied soft-term axes in words: "DKD beta 8 + LS", "KD", "LS"; nil when the grid
        /// varies none (or for scratch).
        public var softTermLabel: String? {
            guard !isScratch else { return nil }
            var name = method.map { $0.rawValue.uppercased() } ?? ""
            if let dkdBeta { name += " beta \(Self.number(dkdBeta))" }
            if standardize == true { name += name.isEmpty ? "LS" : " + LS" }
            if let atWeight { name += (name.isEmpty ? "" : " + ") + "AT \(Self.number(atWeight))" }
            return name.isEmpty ? nil : name
        }

        /// "alpha 0.9, T 4", "DKD beta 8 + LS, alpha 0.5, T 2" or "scratch".
        public var label: String {
            if isScratch { return "scratch" }
            return (softTermLabel.map { $0 + ", " } ?? "") + "alpha \(Self.number(alpha)), T \(Self.number(temperature))"
        }

        /// Whether two points differ in alpha, T or seed only (the heatmap's cells).
        public func sameSoftTerm(as other: Point) -> Bool {
            method == other.method && standardize == other.standardize && dkdBeta == other.dkdBeta && atWeight == other.atWeight
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
        let axes = ["temperature", "alpha", "seed", "kd_method", "logit_standardization", "dkd_beta", "at_weight"]
        if let unknown = grid.keys.sorted().first(where: { !axes.contains($0) }) {
            throw PipelineError(file: path, "key 'grid': unknown entry '\(unknown)' (expected \(axes.joined(separator: ", ")))")
        }
        func values(_ key: String) throws -> [JSONValue]? {
            guard let v = grid[key] else { return nil }
            guard case .array(let a) = v, !a.isEmpty else { throw PipelineError(file: path, "key 'grid.\(key)': expected a non-empty list") }
            return a
        }
        let methods = try values("kd_method")?.map { v -> DistillationLoss.Method in
            guard case .string(let s) = v, let m = DistillationLoss.Method(rawValue: s) else {
                throw PipelineError(file: path, "key 'grid.kd_method': expected names among \(DistillationLoss.Method.allCases.map(\.rawValue).joined(separator: ", ")), found \(v)")
            }
            return m
        }
        let standardizations = try values("logit_standardization")?.map { v -> Bool in
            guard case .bool(let b) = v else { throw PipelineError(file: path, "key 'grid.logit_standardization': expected true or false, found \(v.typeName)") }
            return b
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
        for k in axes where base[k] != nil && (grid[k] != nil || ["alpha", "temperature", "seed"].contains(k)) {
            throw PipelineError(file: path, "key 'base.\(k)': set by the grid, leave it out of base")
        }
        var spec = SweepSpec(base: base, temperatures: try list("temperature"), alphas: try list("alpha"),
                             seeds: try list("seed").map { Int($0) }, methods: methods, standardizations: standardizations,
                             dkdBetas: grid["dkd_beta"] == nil ? nil : try list("dkd_beta"),
                             atWeights: grid["at_weight"] == nil ? nil : try list("at_weight"), scratch: scratch)
        spec.baseMethod = try Params(dictionary: base.filter { $0.key == "kd_method" }, file: path + " (base)").kdMethod
        if spec.dkdBetas != nil, !(spec.methods ?? [spec.baseMethod]).contains(.dkd) {
            throw PipelineError(file: path, "key 'grid.dkd_beta': applies to DKD points only, and the sweep has none (add \"dkd\" to grid.kd_method)")
        }
        // Validate the children's params now, so a bad base fails before any run starts.
        for point in spec.points {
            _ = try Params(dictionary: spec.params(for: point, relativeDepth: 1), file: path + " (base)")
        }
        if let bad = spec.alphas.first(where: { $0 <= 0 || $0 > 1 }) {
            throw PipelineError(file: path, "key 'grid.alpha': \(bad) is outside (0, 1] (the scratch baseline is 'scratch': true)")
        }
        return spec
    }

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
