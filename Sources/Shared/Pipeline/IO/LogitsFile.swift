import Engine
import Foundation

/// A teacher's cached logits for one split (`logits/<split>.h5`): raw logits float32 [N, K],
/// labels int32 [N] and sample indices int64 [N] in the split's canonical order, stamped with
/// what they belong to, so a student can refuse logits of other data. The logits prove they
/// are the teacher's output: a SHA-256 of their bytes and the teacher accuracy they give are
/// stored at export and checked at load (version 2; version 1 files had neither). Version 3 adds
/// `attributes_sha256`, a digest of every attribute in the file (`HDF5File.attributesDigest`),
/// so that a damaged name, split or normalization is refused like damaged rows; version 2 files
/// are still read, their attributes checked as text only.
///
/// With `teacher-export --features` the file also holds, row for row, what feature methods need
/// (`ModelFeatures`): `features/embedding` float32 [N, D] and one `features/attention_<stage>`
/// float32 [N, H * W] per stage (attributes `channels`, `height`, `width`), with the root
/// attribute `features_sha256` over their bytes in that order, checked at load like the logits'.
///
/// With `teacher-export --views V` the train file holds the teacher's outputs on V augmented
/// views of every sample (`TeacherViews`): `logits` [N, V, K], features [N, V, ...], and
/// `views` int32 [N, V, 3] (crop_y, crop_x, flip) with root attributes `num_views`,
/// `augmentation`, `augmentation_padding`, `augmentation_flip`, `view_seed` and
/// `views_sha256`. In memory the rows stay row-major: view v of sample n is row n * V + v.
///
/// With `teacher-export --top-k` or `--dtype float16` the rows are stored compactly
/// (`LogitsEncoding`: `logits` in float16, or `topk_values`, `topk_indices` and `topk_rest`),
/// the file is version 4 with root attributes `logits_dtype` and `logits_top_k` (0: every
/// class), and each stored dataset's SHA-256 is its `<name>_sha256` attribute. A student reads
/// such rows rebuilt to float32 (`logits(of:)`).
public struct LogitsFile: Sendable {
    /// The version of a dense float32 file, which tools from before compact rows also read.
    public static let formatVersion: Int64 = 3
    /// The version of a file of compact rows.
    public static let compactFormatVersion: Int64 = 4
    /// Versions this tool reads: 2 (no `attributes_sha256`), 3 and 4.
    static let readableVersions: [Int64] = [2, 3, 4]
    static let attributesDigestName = "attributes_sha256"

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
    /// How the file stores its rows (written by `write`; read from the file).
    public var encoding: LogitsEncoding = .dense
    /// Row-major [count * viewsPerSample, numClasses], in memory (rebuilt from compact rows);
    /// empty when the rows are `stored` (use `logits(of:)` or `allLogits()`).
    public var logits: [Float]
    public var labels: [Int32]
    public var indices: [Int64]
    /// The teacher's features, when exported with them, with as many rows as the logits.
    public var features: ModelFeatures?
    /// The rows as stored, decoded when asked (`logits` is then empty): compact rows, or dense
    /// float32 rows larger than the memory budget, left in the file.
    public private(set) var stored: StoredLogits?
    /// What a pass over the logits found when the file was read.
    var scan: LogitsScan?
    /// The augmented views the rows belong to, for a multi-view export; nil for plain images.
    public var views: TeacherViews?
    /// Samples (N).
    public var count: Int { labels.count }
    /// Rows per sample: V for a multi-view export, else 1.
    public var viewsPerSample: Int { views?.perSample ?? 1 }

    public init(metadata: Metadata, logits: [Float], labels: [Int32], features: ModelFeatures? = nil, views: TeacherViews? = nil) {
        let rows = labels.count * (views?.perSample ?? 1)
        precondition(views.map { $0.samples == labels.count } ?? true, "views of other samples")
        precondition(logits.count == rows * metadata.numClasses || logits.isEmpty, "logits of other rows")
        precondition(features.map { $0.embedding.count == rows * $0.embeddingSize } ?? true, "features of other rows")
        self.features = features
        self.views = views
        self.metadata = metadata
        self.logits = logits
        self.labels = labels
        self.indices = (0..<Int64(labels.count)).map { $0 }
    }

    /// Each sample's label repeated for its `perSample` rows: the labels of the rows.
    public static func rowLabels(_ labels: [Int32], perSample: Int) -> [Int32] {
        perSample == 1 ? labels : labels.flatMap { repeatElement($0, count: perSample) }
    }

    /// "row 12", or "row 3, view 0" for row 12 of a file with 4 views per sample.
    func describeRow(_ row: Int) -> String {
        views == nil ? "row \(row)" : "row \(row / viewsPerSample), view \(row % viewsPerSample)"
    }

    /// SHA-256 (hex) of an array's little-endian bytes in order: what the file stores as
    /// `logits_sha256` (float32 logits, row-major) and `views_sha256` (the int32 views table).
    public static func checksum<T: BitwiseCopyable>(_ values: [T]) -> String {
        var h = SHA256()
        values.withUnsafeBytes { h.update($0) }  // little-endian on every machine this runs on
        return h.finalizeHex()
    }

    /// The `augmentation` attribute of a multi-view file: torchvision's names for what
    /// `Augmentation` does.
    static let augmentationName = "RandomCrop(padding)+RandomHorizontalFlip"
    // Later transforms (crop size, padding mode, rotation) are further `augmentation_*`
    // attributes, written when not the default, so older files read as they did.

    /// SHA-256 (hex) of the features' bytes: the embedding, then each attention map in order.
    public static func checksum(_ features: ModelFeatures) -> String {
        var h = SHA256()
        features.embedding.withUnsafeBytes { h.update($0) }
        for a in features.attention { a.values.withUnsafeBytes { h.update($0) } }
        return h.finalizeHex()
    }

    // MARK: - Writing and reading

    /// Writes the file atomically, as an export does (`LogitsFileWriter`), recording
    /// `metadata.teacherAccuracy` as it is.
    public func write(to path: String) throws {
        try AtomicWrite.write(to: path) { tmp in
            let writer = try LogitsFileWriter(path: tmp, metadata: metadata, labels: labels, views: views,
                                              encoding: encoding, features: features)
            let all = try allLogits()
            if writer.rows > 0 {
                try all.withUnsafeBufferPointer { try writer.write(0, count: writer.rows, logits: $0.baseAddress!, features: features) }
            }
            try writer.finish(teacherAccuracy: metadata.teacherAccuracy)
        }
    }

    /// The float32 logits of `rows`, row-major [rows.count, K], from memory or from the file,
    /// rebuilt from compact rows as `LogitsEncoding` defines.
    public func logits(of rows: [Int]) throws -> [Float] {
        guard let stored else { return gatherRows(logits, rowSize: metadata.numClasses, rows: rows) }
        return try stored.decode(rows)
    }

    /// Every row's float32 logits, [count * viewsPerSample, K].
    public func allLogits() throws -> [Float] {
        stored == nil ? logits : try logits(of: Array(0..<(count * viewsPerSample)))
    }

    /// Reads a logits file, checking its structure (not yet what data it belongs to). Logits
    /// of more than `memoryBudget` bytes stay in the file (`stored`), checked a block at a time.
    /// Compact rows are rebuilt into `logits` when those fit the budget, unless `keepCompact`
    /// (a student's train rows, rebuilt batch by batch). Without `withFeatures` the features
    /// are neither read nor checked (an export reading back what it has just checked).
    public static func read(_ path: String, memoryBudget: Int = .max, keepCompact: Bool = false,
                            withFeatures: Bool = true) throws -> LogitsFile {
        let f = try HDF5File.open(path)
        let version = try? f.intAttribute("format_version")
        guard let version, readableVersions.contains(version) else {
            let hint = version == 1 ? " (written before logits carried a checksum): run teacher-export again" : ""
            throw KDError(file: path, "logits format_version \(version.map(String.init) ?? "missing"), this tool reads versions \(readableVersions.dropLast().map(String.init).joined(separator: ", ")) and \(readableVersions.last!)\(hint)")
        }
        if version >= 3 {
            let stored = try f.stringAttribute(attributesDigestName)
            guard try f.attributesDigest(excluding: attributesDigestName) == stored else {
                throw KDError(file: path, "its attributes do not match the checksum written at export (\(attributesDigestName)): the file is damaged or was changed; run teacher-export again")
            }
        }
        let splitName = try f.stringAttribute("split")
        guard let split = SplitName(rawValue: splitName) else { throw KDError(file: path, "unknown split '\(splitName)'") }
        let k = Int(try f.intAttribute("num_classes"))
        let codec = LogitsCodec(try readEncoding(f, path, version: version, classes: k), classes: k)
        let first = codec.parts[0]
        let shape = try f.shape(of: first.name)
        let labels = try f.read("labels", as: Int32.self).values
        let indices = try f.read("indices", as: Int64.self).values
        let views = try readViews(f, path, logitsShape: shape, name: first.name)
        let perSample = views?.perSample ?? 1
        let expected = views == nil ? "[N, \(first.perRow)]" : "[N, \(perSample), \(first.perRow)]"
        guard shape.count == (views == nil ? 2 : 3), shape.last == first.perRow else {
            throw KDError(file: path, "'\(first.name)' has shape \(shape), expected \(expected) (num_classes \(k)\(codec.encoding.topK.map { ", logits_top_k \($0)" } ?? ""))")
        }
        guard labels.count == shape[0], indices.count == shape[0] else {
            throw KDError(file: path, "'\(first.name)' has \(shape[0]) rows but 'labels' \(labels.count) and 'indices' \(indices.count)")
        }
        let (logits, stored) = try readRows(f, path, codec: codec, rowShape: Array(shape.dropLast()), memoryBudget: memoryBudget)
        let meta = Metadata(dataset: try f.stringAttribute("dataset"), datasetFingerprint: try f.stringAttribute("dataset_fingerprint"),
                            split: split, numClasses: k, teacherModel: try f.stringAttribute("teacher_model"),
                            checkpointSHA256: try f.stringAttribute("checkpoint_sha256"),
                            teacherAccuracy: try f.doubleAttribute("teacher_accuracy"),
                            normalization: try f.stringAttribute("normalization"))
        var file = LogitsFile(metadata: meta, logits: logits, labels: labels,
                              features: withFeatures ? try readFeatures(f, path, rowShape: Array(shape.dropLast())) : nil, views: views)
        file.indices = indices
        file.encoding = codec.encoding
        file.stored = stored
        let scan = try LogitsScan(file, codec: codec)
        // Rows rewritten, reordered or replaced after export (by h5py, say) no longer match.
        for (part, hash) in zip(codec.parts, scan.checksums) where hash != (try f.stringAttribute(part.checksumAttribute)) {
            throw KDError(file: path, "'\(part.name)' does not match the checksum written at export (\(part.checksumAttribute)): changed after export; run teacher-export again")
        }
        if let (row, problem) = scan.firstProblem {
            throw KDError(file: path, "\(file.describeRow(row)): \(problem), which teacher-export never writes; run teacher-export again")
        }
        file.scan = scan
        if let stored, !keepCompact, stored.rows * k * 4 <= memoryBudget {
            file.logits = try stored.decode(Array(0..<stored.rows))
            file.stored = nil
        }
        return file
    }

    /// The `views` of a multi-view file (nil when the file has none), checked for shape,
    /// checksum and range.
    private static func readViews(_ f: HDF5File, _ path: String, logitsShape: [Int], name: String) throws -> TeacherViews? {
        guard (try f.children()).contains("views") else {
            guard logitsShape.count == 2 else {
                throw KDError(file: path, "'\(name)' has shape \(logitsShape) but the file has no 'views' to say which augmented views its rows belong to")
            }
            return nil
        }
        let v = Int(try f.intAttribute("num_views"))
        let (table, shape) = try f.read("views", as: Int32.self)
        guard logitsShape.count == 3, shape == [logitsShape[0], v, 3], logitsShape[1] == v else {
            throw KDError(file: path, "'views' has shape \(shape) and '\(name)' \(logitsShape), expected [N, \(v), 3] and [N, \(v), K] (num_views \(v))")
        }
        guard checksum(table) == (try f.stringAttribute("views_sha256")) else {
            throw KDError(file: path, "'views' do not match the checksum written at export (views_sha256): changed after export; run teacher-export again")
        }
        let name = try f.stringAttribute("augmentation")
        guard name == augmentationName else {
            throw KDError(file: path, "attribute 'augmentation' is '\(name)'; this tool replays '\(augmentationName)' only")
        }
        let augmentation = try readAugmentation(f, path)
        let imageSize = f.hasAttribute("augmentation_image_size") ? Int(try f.intAttribute("augmentation_image_size")) : 0
        var angles: [Float]?
        if augmentation.rotationDegrees > 0 {
            let (stored, anglesShape) = try f.read("view_angles", as: Float.self)
            guard anglesShape == [logitsShape[0], v] else {
                throw KDError(file: path, "'view_angles' has shape \(anglesShape), expected [\(logitsShape[0]), \(v)]")
            }
            guard checksum(stored) == (try f.stringAttribute("view_angles_sha256")) else {
                throw KDError(file: path, "'view_angles' do not match the checksum written at export (view_angles_sha256): changed after export; run teacher-export again")
            }
            angles = stored
        }
        let seed = UInt64(bitPattern: try f.intAttribute("view_seed"))
        switch TeacherViews.fromTable(table, angles: angles, perSample: v, augmentation: augmentation, imageSize: imageSize, seed: seed) {
        case .success(let views): return views
        case .failure(let e):
            throw KDError(file: path, "'views' row \(e.row), view \(e.view) is \(e.entry)\(e.angle == 0 ? "" : " at \(e.angle) degrees"), outside the views of \(augmentation.summary)")
        }
    }

    /// The augmentation a multi-view file's views were drawn from; attributes left out are
    /// the defaults (files written before they existed).
    private static func readAugmentation(_ f: HDF5File, _ path: String) throws -> Augmentation {
        var a = Augmentation(padding: Int(try f.intAttribute("augmentation_padding")), horizontalFlip: try f.intAttribute("augmentation_flip") != 0)
        if f.hasAttribute("augmentation_crop_size") { a.cropSize = Int(try f.intAttribute("augmentation_crop_size")) }
        if f.hasAttribute("augmentation_pad_if_needed") { a.padIfNeeded = try f.intAttribute("augmentation_pad_if_needed") != 0 }
        if f.hasAttribute("augmentation_rotation_degrees") { a.rotationDegrees = try f.doubleAttribute("augmentation_rotation_degrees") }
        for (key, apply) in [("augmentation_padding_mode", { (t: String) in Augmentation.PaddingMode(rawValue: t).map { a.paddingMode = $0 } }),
                             ("augmentation_interpolation", { (t: String) in Augmentation.Interpolation(rawValue: t).map { a.interpolation = $0 } })]
        where f.hasAttribute(key) {
            let text = try f.stringAttribute(key)
            guard apply(text) != nil else { throw KDError(file: path, "attribute '\(key)' is '\(text)', which this tool does not know") }
        }
        return a
    }

    /// The `features/` group, if the export wrote one, checked for shape and checksum.
    /// `rowShape` is [N] or [N, V], as the logits have it.
    private static func readFeatures(_ f: HDF5File, _ path: String, rowShape: [Int]) throws -> ModelFeatures? {
        guard (try f.children()).contains("features") else { return nil }
        let (embedding, shape) = try f.read("features/embedding", as: Float.self)
        let rows = rowShape.map(String.init).joined(separator: ", ")
        guard shape.count == rowShape.count + 1, Array(shape.dropLast()) == rowShape else {
            throw KDError(file: path, "'features/embedding' has shape \(shape), expected [\(rows), D]")
        }
        var features = ModelFeatures(embeddingSize: shape.last!, embedding: embedding, attention: [])
        let stages = try f.children(of: "features").filter { $0.hasPrefix("attention_") }
            .sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }  // stage2 before stage10
        for name in stages {
            let object = "features/" + name
            let (values, shape) = try f.read(object, as: Float.self)
            let a = ModelFeatures.Attention(name: String(name.dropFirst("attention_".count)),
                                            channels: Int(try f.intAttribute("channels", of: object)),
                                            height: Int(try f.intAttribute("height", of: object)),
                                            width: Int(try f.intAttribute("width", of: object)), values: values)
            guard shape == rowShape + [a.height * a.width] else {
                throw KDError(file: path, "'\(object)' has shape \(shape), expected [\(rows), \(a.height * a.width)]")
            }
            features.attention.append(a)
        }
        guard checksum(features) == (try f.stringAttribute("features_sha256")) else {
            throw KDError(file: path, "'features' do not match the checksum written at export (features_sha256): changed after export; run teacher-export again")
        }
        return features
    }

    /// Reads `path` and checks that it holds logits for exactly `data` as split `split`:
    /// format, dataset, split, fingerprint, sample and class counts, labels row by row,
    /// indices in canonical order, finite values. Any mismatch is an error naming the file.
    public static func load(_ path: String, for data: Dataset, split: SplitName, memoryBudget: Int = .max,
                            keepCompact: Bool = false, withFeatures: Bool = true) throws -> LogitsFile {
        let f = try read(path, memoryBudget: memoryBudget, keepCompact: keepCompact, withFeatures: withFeatures)
        let m = f.metadata
        guard m.split == split else { throw KDError(file: path, "holds logits of the '\(m.split.rawValue)' split, not '\(split.rawValue)'") }
        guard m.dataset == data.name else { throw KDError(file: path, "holds logits for dataset '\(m.dataset)', not '\(data.name)'") }
        guard m.numClasses == data.numClasses else {
            throw KDError(file: path, "has \(m.numClasses) classes, the dataset has \(data.numClasses)")
        }
        guard f.count == data.count else {
            throw KDError(file: path, "has \(f.count) rows, the \(split.rawValue) split has \(data.count) samples (other val_size, split_seed or data?)")
        }
        let fingerprint = try data.fingerprint()
        guard m.datasetFingerprint == fingerprint else {
            throw KDError(file: path, "dataset fingerprint \(m.datasetFingerprint.prefix(12))... does not match the \(split.rawValue) split here (\(fingerprint.prefix(12))...): logits of other data, val_size or split_seed")
        }
        if let row = f.labels.indices.first(where: { Int(f.labels[$0]) != Int(data.labels[$0]) }) {
            throw KDError(file: path, "row \(row) has label \(f.labels[row]) but sample \(row) of the \(split.rawValue) split is labelled \(data.labels[row]): rows out of order")
        }
        if let row = f.indices.indices.first(where: { f.indices[$0] != Int64($0) }) {
            throw KDError(file: path, "row \(row) holds sample index \(f.indices[row]), expected \(row): rows out of canonical order")
        }
        if let (row, value) = f.scan?.firstNonFinite {
            throw KDError(file: path, "\(f.describeRow(row)) holds a non-finite logit (\(value))")
        }

        if let features = f.features {
            let rows = max(f.count * f.viewsPerSample, 1)
            for (name, values) in [("embedding", features.embedding)] + features.attention.map({ ("attention_" + $0.name, $0.values) }) {
                if let i = values.firstIndex(where: { !$0.isFinite }) {
                    throw KDError(file: path, "\(f.describeRow(i / (values.count / rows))) of features/\(name) holds a non-finite value (\(values[i]))")
                }
            }
        }
        // teacher-export records the accuracy these very rows give (same arg-max, same labels).
        let accuracy = f.scan!.accuracy
        guard accuracy == m.teacherAccuracy else {
            throw KDError(file: path, "the rows give teacher accuracy \(percent(accuracy)), the file records \(percent(m.teacherAccuracy)) (teacher_accuracy): rows changed after export")
        }
        return f
    }
}
