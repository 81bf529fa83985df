import Engine
import Foundation

/// Writes a logits file (`LogitsFile`'s layout) as the teacher makes its rows, so an export's
/// memory does not grow with the split: the row datasets (the logits as `encoding` stores them,
/// and the features) are allocated at their full size when the file is made, and each batch is
/// written where it belongs (`LogitsRowWriter`), by this process or, under MPI, by the process
/// that computed it. Call `finish` after the last row; the file is only complete then, which is
/// why it is made under a temporary name (`AtomicWrite`).
public final class LogitsFileWriter {
    private let file: HDF5File
    private var metadata: LogitsFile.Metadata
    private let codec: LogitsCodec
    /// This process's writer of rows; nil for a file of no rows (HDF5 allocates no space).
    public let rowWriter: LogitsRowWriter?
    private let featureNames: [String]
    private let rowCount: Int
    /// Rows in all (samples x views).
    public var rows: Int { rowCount }

    /// Makes the file at `path` for the rows of the samples `labels`, with `views` for a
    /// multi-view export, storing logits as `encoding` says and, when `features` is given,
    /// features of its shapes (its values are not written).
    public init(path: String, metadata: LogitsFile.Metadata, labels: [Int32], views: TeacherViews?,
                encoding: LogitsEncoding = .dense, features: ModelFeatures? = nil) throws {
        precondition(views.map { $0.samples == labels.count } ?? true, "views of other samples")
        let count = labels.count, perSample = views?.perSample ?? 1
        let rowShape = views.map { [count, $0.perSample] } ?? [count]
        let codec = LogitsCodec(encoding, classes: metadata.numClasses)
        let rowLabels = LogitsFile.rowLabels(labels, perSample: perSample)
        self.metadata = metadata
        self.codec = codec
        rowCount = rowLabels.count
        file = try HDF5File.create(path)
        for part in codec.parts {
            try file.createRowDataset(part.name, element: part, shape: part.shape(rows: rowShape))
        }
        var made: [(String, Int)] = []
        if let features {
            made = [("features/embedding", features.embeddingSize)]
            try file.createRowDataset(made[0].0, of: Float.self, shape: rowShape + [features.embeddingSize])
            for a in features.attention {
                let name = "features/attention_" + a.name
                try file.createRowDataset(name, of: Float.self, shape: rowShape + [a.height * a.width])
                try file.setAttribute("channels", .int(Int64(a.channels)), on: name)
                try file.setAttribute("height", .int(Int64(a.height)), on: name)
                try file.setAttribute("width", .int(Int64(a.width)), on: name)
                made.append((name, a.height * a.width))
            }
        }
        featureNames = made.map(\.0)
        if rowCount > 0 {
            let file = self.file
            func open(_ name: String, _ bytes: Int, _ perRow: Int) throws -> RowFile {
                guard let rows = try RowFile(file, dataset: name, elementBytes: bytes, rowElements: perRow, writable: true) else {
                    throw KDError(file: path, "cannot lay out '\(name)' for \(rowLabels.count) rows")
                }
                return rows
            }
            rowWriter = LogitsRowWriter(codec: codec, rowLabels: rowLabels,
                                        parts: try codec.parts.map { try open($0.name, $0.elementBytes, $0.perRow) },
                                        features: try made.map { try open($0.0, 4, $0.1) })
        } else {
            rowWriter = nil
        }
        try writeSamples(labels: labels, views: views, rowShape: rowShape)
    }

    /// Labels, sample indices and the views table: what says which rows are which.
    private func writeSamples(labels: [Int32], views: TeacherViews?, rowShape: [Int]) throws {
        let count = labels.count
        let chunk = min(max(count, 1), max(1, 4096 / (views?.perSample ?? 1)))
        try file.write("labels", labels, shape: [count], chunkRows: chunk, gzipLevel: 4)
        try file.write("indices", (0..<Int64(count)).map { $0 }, shape: [count], chunkRows: chunk, gzipLevel: 4)
        guard let views else { return }
        let table = views.table
        try file.write("views", table, shape: rowShape + [3], chunkRows: chunk, gzipLevel: 4)
        try file.setAttribute("num_views", .int(Int64(views.perSample)))
        try file.setAttribute("augmentation", .string(LogitsFile.augmentationName))
        try file.setAttribute("augmentation_padding", .int(Int64(views.augmentation.padding)))
        try file.setAttribute("augmentation_flip", .int(views.augmentation.horizontalFlip ? 1 : 0))
        try file.setAttribute("view_seed", .int(Int64(bitPattern: views.seed)))
        try file.setAttribute("augmentation_image_size", .int(Int64(views.imageSize)))
        let a = views.augmentation
        if let crop = a.cropSize { try file.setAttribute("augmentation_crop_size", .int(Int64(crop))) }
        if a.padIfNeeded { try file.setAttribute("augmentation_pad_if_needed", .int(1)) }
        if a.paddingMode != .constant { try file.setAttribute("augmentation_padding_mode", .string(a.paddingMode.rawValue)) }
        if a.rotationDegrees > 0 {
            try file.setAttribute("augmentation_rotation_degrees", .double(a.rotationDegrees))
            try file.setAttribute("augmentation_interpolation", .string(a.interpolation.rawValue))
            try file.write("view_angles", views.angles, shape: rowShape, chunkRows: chunk, gzipLevel: 4)
            try file.setAttribute("view_angles_sha256", .string(LogitsFile.checksum(views.angles)))
        }
        try file.setAttribute("views_sha256", .string(LogitsFile.checksum(table)))
    }

    /// Writes rows `first..<first + count` (this process's; see `LogitsRowWriter.write`).
    public func write(_ first: Int, count: Int, logits: UnsafePointer<Float>, features: ModelFeatures? = nil) throws {
        try rowWriter?.write(first, count: count, logits: logits, features: features)
    }

    /// Records what the rows are and closes the file: the teacher's accuracy over the rows
    /// (`teacherAccuracy` when given, for a file meant to disagree with its rows; else
    /// `correctRows`, which an MPI export sums over its processes, or this process's count),
    /// the checksums and the attributes' digest. Returns the accuracy recorded.
    @discardableResult
    public func finish(teacherAccuracy: Double? = nil, correctRows: Int? = nil) throws -> Double {
        let correct = correctRows ?? rowWriter?.correct ?? 0
        metadata.teacherAccuracy = teacherAccuracy ?? (rows > 0 ? Double(correct) / Double(rows) : 0)
        let m = metadata
        let encoding = codec.encoding
        try file.setAttribute("format_version", .int(encoding == .dense ? LogitsFile.formatVersion : LogitsFile.compactFormatVersion))
        if encoding != .dense {
            try file.setAttribute("logits_dtype", .string(encoding.values.rawValue))
            try file.setAttribute("logits_top_k", .int(Int64(encoding.topK ?? 0)))
        }
        try file.setAttribute("dataset", .string(m.dataset))
        try file.setAttribute("dataset_fingerprint", .string(m.datasetFingerprint))
        try file.setAttribute("split", .string(m.split.rawValue))
        try file.setAttribute("num_classes", .int(Int64(m.numClasses)))
        try file.setAttribute("teacher_model", .string(m.teacherModel))
        try file.setAttribute("checkpoint_sha256", .string(m.checkpointSHA256))
        try file.setAttribute("teacher_accuracy", .double(m.teacherAccuracy))
        try file.setAttribute("normalization", .string(m.normalization))
        for (part, hash) in zip(codec.parts, try partChecksums()) {
            try file.setAttribute(part.checksumAttribute, .string(hash))
        }
        if !featureNames.isEmpty { try file.setAttribute("features_sha256", .string(try featuresChecksum())) }
        try file.setAttribute(LogitsFile.attributesDigestName, .string(try file.attributesDigest(excluding: LogitsFile.attributesDigestName)))
        try file.close()
        return m.teacherAccuracy
    }

    /// Each logits part's SHA-256: counted on the way when this process wrote every row in
    /// order, else read back from the file.
    private func partChecksums() throws -> [String] {
        guard let rowWriter else { return codec.parts.map { _ in var h = SHA256(); return h.finalizeHex() } }
        if rowWriter.hashedRows == rows { return rowWriter.hashes.map { var h = $0; return h.finalizeHex() } }
        return try rowWriter.layout.parts.map { try readBack([$0]) }
    }

    /// `LogitsFile.checksum(features)` over the written features, read back a block at a time.
    private func featuresChecksum() throws -> String {
        try readBack(rowWriter?.layout.features ?? [])
    }

    /// SHA-256 of the rows of `layouts`, one dataset after the other, read back a block at a time.
    private func readBack(_ layouts: [RowLayout]) throws -> String {
        var h = SHA256()
        for layout in layouts {
            let rows = try RowFile(path: file.path, at: layout)
            let block = max(1, (1 << 22) / rows.rowBytes)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: block * rows.rowBytes, alignment: 16)
            defer { buffer.deallocate() }
            for start in stride(from: 0, to: rows.rows, by: block) {
                let n = min(block, rows.rows - start)
                try rows.read(start, count: n, into: buffer)
                h.update(UnsafeRawBufferPointer(start: buffer, count: n * rows.rowBytes))
            }
        }
        return h.finalizeHex()
    }
}
