import Engine
import Foundation

/// A teacher's cached logits for one split (`logits/<split>.h5`): raw logits float32 [N, K],
/// labels int32 [N] and sample indices int64 [N] in the split's canonical order, stamped with
/// what they belong to, so a student can refuse logits of other data. The logits prove they
/// are the teacher's output: a SHA-256 of their bytes and the teacher accuracy they give are
/// stored at export and checked at load (version 2; version 1 files had neither).
public struct LogitsFile: Sendable {
    public static let formatVersion: Int64 = 2

    /// What a logits file describes.
    public struct Metadata: Equatable, Sendable {
        public var dataset: String
        /// `Dataset.fingerprint()` of the split.
        public var datasetFingerprint: String
        public var split: SplitName
        public var numClasses: Int
        public var teacherModel: String
        public var checkpointSHA256: String
        public var teacherAccuracy: Double
        public var normalization: String

        public init(dataset: String, datasetFingerprint: String, split: SplitName, numClasses: Int, teacherModel: String,
                    checkpointSHA256: String, teacherAccuracy: Double, normalization: String) {
            self.dataset = dataset; self.datasetFingerprint = datasetFingerprint; self.split = split
            self.numClasses = numClasses; self.teacherModel = teacherModel; self.checkpointSHA256 = checkpointSHA256
            self.teacherAccuracy = teacherAccuracy; self.normalization = normalization
        }
    }

    public var metadata: Metadata
    /// Row-major [count, numClasses].
    public var logits: [Float]
    public var labels: [Int32]
    public var indices: [Int64]
    public var count: Int { labels.count }

    public init(metadata: Metadata, logits: [Float], labels: [Int32]) {
        precondition(logits.count == labels.count * metadata.numClasses)
        self.metadata = metadata
        self.logits = logits
        self.labels = labels
        self.indices = (0..<Int64(labels.count)).map { $0 }
    }

    /// Fraction of rows whose arg-max logit is the label.
    public static func accuracy(logits: [Float], labels: [Int32], classes k: Int) -> Double {
        guard !labels.isEmpty else { return 0 }
        let correct = labels.indices.filter { argmax(logits, row: $0, classes: k) == Int(labels[$0]) }.count
        return Double(correct) / Double(labels.count)
    }

    /// SHA-256 (hex) of the logits as little-endian float32 bytes, row-major: what the file
    /// stores as `logits_sha256`.
    public static func checksum(_ logits: [Float]) -> String {
        var h = SHA256()
        logits.withUnsafeBytes { h.update($0) }  // little-endian on every machine this runs on
        return h.finalizeHex()
    }

    static func argmax(_ logits: [Float], row: Int, classes k: Int) -> Int {
        logits.withUnsafeBufferPointer { argmax($0.baseAddress! + row * k, classes: k) }
    }

    /// Index of the largest of `k` values (the first one on ties).
    static func argmax(_ row: UnsafePointer<Float>, classes k: Int) -> Int {
        var best = 0
        for j in 1..<k where row[j] > row[best] { best = j }
        return best
    }

    // MARK: - Writing and reading

    /// Writes the file atomically (chunked, gzip-compressed).
    public func write(to path: String) throws {
        let k = metadata.numClasses
        try AtomicWrite.write(to: path) { tmp in
            let f = try HDF5File.create(tmp)
            let chunk = min(max(count, 1), 4096)
            try f.write("logits", logits, shape: [count, k], chunkRows: chunk, gzipLevel: 4)
            try f.write("labels", labels, shape: [count], chunkRows: chunk, gzipLevel: 4)
            try f.write("indices", indices, shape: [count], chunkRows: chunk, gzipLevel: 4)
            try f.setAttribute("format_version", .int(Self.formatVersion))
            try f.setAttribute("dataset", .string(metadata.dataset))
            try f.setAttribute("dataset_fingerprint", .string(metadata.datasetFingerprint))
            try f.setAttribute("split", .string(metadata.split.rawValue))
            try f.setAttribute("num_classes", .int(Int64(k)))
            try f.setAttribute("teacher_model", .string(metadata.teacherModel))
            try f.setAttribute("checkpoint_sha256", .string(metadata.checkpointSHA256))
            try f.setAttribute("teacher_accuracy", .double(metadata.teacherAccuracy))
            try f.setAttribute("normalization", .string(metadata.normalization))
            try f.setAttribute("logits_sha256", .string(Self.checksum(logits)))
            try f.close()
        }
    }

    /// Reads a logits file, checking its structure (not yet what data it belongs to).
    public static func read(_ path: String) throws -> LogitsFile {
        let f = try HDF5File.open(path)
        let version = try? f.intAttribute("format_version")
        guard version == formatVersion else {
            let hint = version == 1 ? " (written before logits carried a checksum): run teacher-export again" : ""
            throw PipelineError(file: path, "logits format_version \(version.map(String.init) ?? "missing"), this tool reads version \(formatVersion)\(hint)")
        }
        let splitName = try f.stringAttribute("split")
        guard let split = SplitName(rawValue: splitName) else { throw PipelineError(file: path, "unknown split '\(splitName)'") }
        let k = Int(try f.intAttribute("num_classes"))
        let (logits, shape) = try f.read("logits", as: Float.self)
        let labels = try f.read("labels", as: Int32.self).values
        let indices = try f.read("indices", as: Int64.self).values
        guard shape.count == 2, shape[1] == k else {
            throw PipelineError(file: path, "'logits' has shape \(shape), expected [N, \(k)] (num_classes \(k))")
        }
        guard labels.count == shape[0], indices.count == shape[0] else {
            throw PipelineError(file: path, "'logits' has \(shape[0]) rows but 'labels' \(labels.count) and 'indices' \(indices.count)")
        }
        let meta = Metadata(dataset: try f.stringAttribute("dataset"), datasetFingerprint: try f.stringAttribute("dataset_fingerprint"),
                            split: split, numClasses: k, teacherModel: try f.stringAttribute("teacher_model"),
                            checkpointSHA256: try f.stringAttribute("checkpoint_sha256"),
                            teacherAccuracy: try f.doubleAttribute("teacher_accuracy"),
                            normalization: try f.stringAttribute("normalization"))
        // Rows rewritten, reordered or replaced after export (by h5py, say) no longer match.
        let stored = try f.stringAttribute("logits_sha256")
        guard checksum(logits) == stored else {
            throw PipelineError(file: path, "'logits' does not match the checksum written at export (logits_sha256): changed after export; run teacher-export again")
        }
        var file = LogitsFile(metadata: meta, logits: logits, labels: labels)
        file.indices = indices
        return file
    }

    /// Reads `path` and checks that it holds logits for exactly `data` as split `split`:
    /// format, dataset, split, fingerprint, sample and class counts, labels row by row,
    /// indices in canonical order, finite values. Any mismatch is an error naming the file.
    public static func load(_ path: String, for data: Dataset, split: SplitName) throws -> LogitsFile {
        let f = try read(path)
        let m = f.metadata
        guard m.split == split else { throw PipelineError(file: path, "holds logits of the '\(m.split.rawValue)' split, not '\(split.rawValue)'") }
        guard m.dataset == data.name else { throw PipelineError(file: path, "holds logits for dataset '\(m.dataset)', not '\(data.name)'") }
        guard m.numClasses == data.numClasses else {
            throw PipelineError(file: path, "has \(m.numClasses) classes, the dataset has \(data.numClasses)")
        }
        guard f.count == data.count else {
            throw PipelineError(file: path, "has \(f.count) rows, the \(split.rawValue) split has \(data.count) samples (other val_size, split_seed or data?)")
        }
        let fingerprint = data.fingerprint()
        guard m.datasetFingerprint == fingerprint else {
            throw PipelineError(file: path, "dataset fingerprint \(m.datasetFingerprint.prefix(12))... does not match the \(split.rawValue) split here (\(fingerprint.prefix(12))...): logits of other data, val_size or split_seed")
        }
        if let row = f.labels.indices.first(where: { Int(f.labels[$0]) != Int(data.labels[$0]) }) {
            throw PipelineError(file: path, "row \(row) has label \(f.labels[row]) but sample \(row) of the \(split.rawValue) split is labelled \(data.labels[row]): rows out of order")
        }
        if let row = f.indices.indices.first(where: { f.indices[$0] != Int64($0) }) {
            throw PipelineError(file: path, "row \(row) holds sample index \(f.indices[row]), expected \(row): rows out of canonical order")
        }
        if let i = f.logits.firstIndex(where: { !$0.isFinite }) {
            throw PipelineError(file: path, "row \(i / m.numClasses) holds a non-finite logit (\(f.logits[i]))")
        }
        // teacher-export records the accuracy these very rows give (same arg-max, same labels).
        let accuracy = Self.accuracy(logits: f.logits, labels: f.labels, classes: m.numClasses)
        guard accuracy == m.teacherAccuracy else {
            throw PipelineError(file: path, "the rows give teacher accuracy \(percent(accuracy)), the file records \(percent(m.teacherAccuracy)) (teacher_accuracy): rows changed after export")
        }
        return f
    }
}
