import Engine
import Foundation

/// Typed, range-checked reads of one JSON object's keys, with errors that name file and key.
struct KeyReader {
    let d: [String: JSONValue]
    let file: String
    init(_ d: [String: JSONValue], file: String) { self.d = d; self.file = file }

    func fail(_ key: String, _ what: String) -> KDError { KDError(file: file, "key '\(key)': \(what)") }

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

    /// A list of non-empty strings.
    func stringList(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw fail(key, "expected a list of strings, found \(v.typeName)") }
        return try a.map { e in
            guard case .string(let s) = e, !s.isEmpty else { throw fail(key, "expected a list of non-empty strings") }
            return s
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
