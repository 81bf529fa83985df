import Engine
import Foundation

/// A run directory and every file a stage reads or writes in it: their names, paths, typed JSON
/// reports written atomically, and the resolution of paths that params.json gives relative to
/// it. The one place that knows the layout (params.json, best.h5, last.h5, metrics, history,
/// train.log, logits/); `RunLock` keeps it to one process at a time.
public struct RunDirectory: Sendable {
    public let path: String

    public enum File: String, CaseIterable, Sendable {
        case params = "params.json"
        /// `--set` overrides of params.json, applied by every stage in the directory.
        case overrides = "overrides.json"
        case best = "best.h5"
        case last = "last.h5"
        case valBestMetrics = "metrics_val_best_weights.json"
        case valLastMetrics = "metrics_val_last_weights.json"
        case testBestMetrics = "metrics_test_best_weights.json"
        case history = "history.json"
        case metricsCSV = "metrics.csv"
        case log = "train.log"
        /// teacher-export's default output folder.
        case logits = "logits"
        /// `student-distill export-onnx`'s default output.
        case onnx = "student.onnx"
    }

    public init(_ path: String) { self.path = path }

    public func path(_ file: File) -> String { (path as NSString).appendingPathComponent(file.rawValue) }

    /// Where `student-distill evaluate` writes its report of `checkpoint` on `split`.
    public func evaluationPath(split: SplitName, checkpoint: RestorePoint) -> String {
        (path as NSString).appendingPathComponent("evaluation_\(split.rawValue)_\(checkpoint.rawValue).json")
    }

    public func exists(_ file: File) -> Bool { FileManager.default.fileExists(atPath: path(file)) }

    /// `relative` as given if absolute, else relative to this directory (falling back to the
    /// working directory when that is where it exists).
    public func resolve(_ relative: String) -> String { Self.resolve(relative, relativeTo: path) }

    public static func resolve(_ relative: String, relativeTo base: String) -> String {
        if relative.hasPrefix("/") { return relative }
        let joined = (base as NSString).appendingPathComponent(relative)
        if FileManager.default.fileExists(atPath: joined) { return joined }
        return FileManager.default.fileExists(atPath: relative) ? relative : joined
    }

    /// Writes `report` as `file` atomically.
    public func write<Report: Encodable>(_ report: Report, to file: File) throws {
        try Self.writeJSON(report, to: path(file))
    }

    /// `file` decoded as `Report`, or nil when the file does not exist; a file that does not
    /// decode is an error naming it.
    public func read<Report: Decodable>(_ type: Report.Type, from file: File) throws -> Report? {
        try Self.readJSON(type, from: path(file))
    }

    // MARK: - JSON in the reports' one spelling: snake_case keys, sorted, indented

    public static func writeJSON<Report: Encodable>(_ report: Report, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(try encoder.encode(report) + Data("\n".utf8), to: path)
    }

    public static func readJSON<Report: Decodable>(_ type: Report.Type, from path: String) throws -> Report? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw KDError(file: path, "is not the \(type) report this tool writes (\(Self.reason(error)))")
        }
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "key '\(snakeCase(key.stringValue))' missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "bad value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }

    /// "trainAccuracy" -> "train_accuracy", as the files spell the keys.
    private static func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }
    }
}
