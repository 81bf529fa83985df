import Engine
import Foundation

/// Keys of params.json overridden from the command line (`--set key=value` on a stage), and
/// recorded in the run directory as overrides.json: every later stage in that directory applies
/// them too (teacher-export exports what teacher-train trained), until the file is deleted. A
/// value is read as JSON when it parses as JSON (numbers, true/false, null, lists, quoted
/// strings), else as a plain string: `--set optimizer=adam`, `--set lr_milestones=[30,60]`.
public struct ParamsOverrides: Equatable, Sendable {
    public var values: [String: JSONValue] = [:]

    public init() {}

    /// overrides.json: an object of keys like params.json's (written without the reports'
    /// key conversion, which would rename keys inside it).
    public static func read(from path: String) throws -> ParamsOverrides? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard case .object(let values)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw KDError(file: path, "is not an object of params.json keys (written by --set; delete it to drop the overrides)")
        }
        var o = ParamsOverrides()
        o.values = values
        return o
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicWrite.write(try encoder.encode(JSONValue.object(values)) + Data("\n".utf8), to: path)
    }

    /// Parses `key=value` assignments; a malformed one is an error naming it.
    public init(assignments: [String]) throws {
        for a in assignments {
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex else {
                throw KDError("--set \(a): expected key=value")
            }
            let key = String(a[..<eq]), text = String(a[a.index(after: eq)...])
            values[key] = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
        }
    }

    public var isEmpty: Bool { values.isEmpty }

    /// These overrides with `newer`'s on top.
    public func merging(_ newer: ParamsOverrides) -> ParamsOverrides {
        var merged = self
        merged.values.merge(newer.values) { $1 }
        return merged
    }

    /// "alpha=0.5, num_epochs=3", in key order.
    public var summary: String {
        values.keys.sorted().map { "\($0)=\(values[$0]!.jsonText)" }.joined(separator: ", ")
    }
}
