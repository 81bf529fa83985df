import Engine

/// The optional axes of a sweep's grid beyond alpha, T and seed, each a params key the grid may
/// vary. This one place says, per axis, how its grid values read, what a point's value adds to
/// the folder name, the label and the csv, and which points it applies to; the order of the
/// cases is the order of the grid's loops and of the parts of a name. A new axis is a case here.
public enum SweepAxis: String, CaseIterable, Sendable {
    case kdMethod = "kd_method"
    case dkdBeta = "dkd_beta"
    case logitStandardization = "logit_standardization"
    case atWeight = "at_weight"

    /// One value on an axis.
    public enum Value: Hashable, Sendable {
        case method(DistillationLoss.Method), flag(Bool), number(Double)

        /// As params.json holds it.
        var json: JSONValue {
            switch self {
            case .method(let m): return .string(m.rawValue)
            case .flag(let b): return .bool(b)
            case .number(let x): return .number(x)
            }
        }
    }

    /// The value a grid entry holds, or nil when it is not one this axis takes.
    func value(_ v: JSONValue) -> Value? {
        switch (self, v) {
        case (.kdMethod, .string(let s)): return DistillationLoss.Method(rawValue: s).map(Value.method)
        case (.logitStandardization, .bool(let b)): return .flag(b)
        case (.dkdBeta, .number(let x)), (.atWeight, .number(let x)): return .number(x)
        default: return nil
        }
    }

    /// What the grid's list must hold, for errors.
    var expected: String {
        switch self {
        case .kdMethod: return "names among \(DistillationLoss.Method.allCases.map(\.rawValue).joined(separator: ", "))"
        case .logitStandardization: return "true or false"
        case .dkdBeta, .atWeight: return "numbers"
        }
    }

    /// Whether a point whose soft term is `method` takes this axis (DKD's beta: DKD points only).
    func applies(to method: DistillationLoss.Method) -> Bool { self != .dkdBeta || method == .dkd }

    /// The value's part of a folder name: "dkd", "beta_8", "ls", "at_1000"; nil for none.
    func folderPart(_ v: Value) -> String? {
        switch (self, v) {
        case (.kdMethod, .method(let m)): return m.rawValue
        case (.dkdBeta, .number(let x)): return "beta_\(numberText(x))"
        case (.logitStandardization, .flag(let b)): return b ? "ls" : nil
        case (.atWeight, .number(let x)): return "at_\(numberText(x))"
        default: return nil
        }
    }

    /// The value's part of a label, after the parts before it (`sofar`): "DKD", "DKD beta 8",
    /// "DKD beta 8 + LS", "AT 1000"; nil for none.
    func labelPart(_ v: Value, after sofar: String) -> String? {
        let joined = sofar.isEmpty ? "" : " + "
        switch (self, v) {
        case (.kdMethod, .method(let m)): return m.rawValue.uppercased()
        case (.dkdBeta, .number(let x)): return " beta \(numberText(x))"
        case (.logitStandardization, .flag(let b)): return b ? joined + "LS" : nil
        case (.atWeight, .number(let x)): return joined + "AT \(numberText(x))"
        default: return nil
        }
    }

    /// The value's part of the csv's config column: its folder part, joined as the csv has
    /// always written it ("kd", "_beta_8", "+ls", "+at_1000"); nil for none.
    func kindPart(_ v: Value) -> String? {
        folderPart(v).map { (self == .kdMethod ? "" : self == .dkdBeta ? "_" : "+") + $0 }
    }
}
