import Engine
import Foundation

/// Writes a logits file (`LogitsFile`'s layout) as the teacher makes its rows, so an export's
/// memory does not grow with the split: the logits and features go into datasets allocated at
/// their full size when the file is made, each batch written where it belongs, while the
/// logits' checksum and the teacher's accuracy are counted on the way. Call `finish` after the
/// last row; the file is only complete then, which is why it is made under a temporary name
/// (`AtomicWrite`).
public final class LogitsFileWriter {
    private let file: HDF5File
    private var metadata: LogitsFile.Metadata
    private let rowShape: [Int]
    private let rowLabels: [Int32]
    /// Nil for a file of no rows (HDF5 allocates no space to write into).
    private let logits: RowFile?
    private var features: [(name: String, rows: RowFile)] = []
    private var written = 0, correct = 0
    private var logitsHash = SHA256()
    /// Rows in all (samples x views).
    public var rows: Int { rowLabels.count }

    /// Makes the file at `path` for the rows of the samples `labels`, with `views` for a
    /// multi-view export.
    public init(path: String, metadata: LogitsFile.Metadata, labels: [Int32], views: TeacherViews?) throws {
        precondition(views.map { $0.samples == labels.count } ?? true, "views of other samples")
        let count = labels.count, perSample = views?.perSample ?? 1
        self.metadata = metadata
        rowShape = views.map { [count, $0.perSample] } ?? [count]
        rowLabels = LogitsFile.rowLabels(labels, perSample: perSample)
        file = try HDF5File.create(path)
        try file.createRowDataset("logits", of: Float.self, shape: rowShape + [metadata.numClasses])
        logits = try RowFile(file, dataset: "logits", elementBytes: 4, rowElements: metadata.numClasses, writable: true)
        guard logits != nil || rowLabels.isEmpty else { throw KDError(file: path, "cannot lay out 'logits' for \(rowLabels.count) rows") }
        let chunk = min(max(count, 1), max(1, 4096 / perSample))
        try file.write("labels", labels, shape: [count], chunkRows: chunk, gzipLevel: 4)
        try file.write("indices", (0..<Int64(count)).map { $0 }, shape: [count], chunkRows: chunk, gzipLevel: 4)
        if let views {
            let table = views.table
            try file.write("views", table, shape: rowShape + [3], chunkRows: chunk, gzipLevel: 4)
            try file.setAttribute("num_views", .int(Int64(views.perSample)))
            try file.setAttribute("augmentation", .string(LogitsFile.augmentationName))
            try file.setAttribute("augmentation_padding", .int(Int64(views.augmentation.padding)))
            try file.setAttribute("augmentation_flip", .int(views.augmentation.horizontalFlip ? 1 : 0))
            try file.setAttribute("view_seed", .int(Int64(bitPattern: views.seed)))
            try file.setAttribute("views_sha256", .string(LogitsFile.checksum(table)))
        }
    }

    /// Writes the next `count` rows: their logits [count, K] and, for an export with features,
    /// their features (the first call decides whether the file has them).
    public func append(logits values: UnsafePointer<Float>, count: Int, features batch: ModelFeatures? = nil) throws {
        precondition(written + count <= rows, "more rows than the file has")
        guard count > 0, let logits else { return }
        let k = metadata.numClasses
        try logits.write(written, count: count, from: values)
        logitsHash.update(UnsafeRawBufferPointer(start: values, count: count * k * 4))
        for r in 0..<count where Predictions.argmax(values + r * k, classes: k) == Int(rowLabels[written + r]) { correct += 1 }
        if let batch {
            if written == 0 { try createFeatures(like: batch) }
            precondition(features.count == batch.attention.count + 1, "features in some batches only")
            for (i, values) in ([batch.embedding] + batch.attention.map(\.values)).enumerated() {
                try values.withUnsafeBytes { try features[i].rows.write(written, count: count, from: $0.baseAddress!) }
            }
        }
        written += count
    }

    /// Records what the rows are and closes the file: the teacher's accuracy over the rows
    /// (`teacherAccuracy` when given, for a file meant to disagree with its rows), the
    /// checksums and the attributes' digest. Returns the accuracy recorded.
    @discardableResult
    public func finish(teacherAccuracy: Double? = nil) throws -> Double {
        precondition(written == rows, "\(written) of \(rows) rows written")
        metadata.teacherAccuracy = teacherAccuracy ?? (rows > 0 ? Double(correct) / Double(rows) : 0)
        let m = metadata
        try file.setAttribute("format_version", .int(LogitsFile.formatVersion))
        try file.setAttribute("dataset", .string(m.dataset))
        try file.setAttribute("dataset_fingerprint", .string(m.datasetFingerprint))
        try file.setAttribute("split", .string(m.split.rawValue))
        try file.setAttribute("num_classes", .int(Int64(m.numClasses)))
        try file.setAttribute("teacher_model", .string(m.teacherModel))
        try file.setAttribute("checkpoint_sha256", .string(m.checkpointSHA256))
        try file.setAttribute("teacher_accuracy", .double(m.teacherAccuracy))
        try file.setAttribute("normalization", .string(m.normalization))
        try file.setAttribute("logits_sha256", .string(logitsHash.finalizeHex()))
        if !features.isEmpty { try file.setAttribute("features_sha256", .string(try featuresChecksum())) }
        try file.setAttribute(LogitsFile.attributesDigestName, .string(try file.attributesDigest(excluding: LogitsFile.attributesDigestName)))
        try file.close()
        return m.teacherAccuracy
    }

    private func createFeatures(like batch: ModelFeatures) throws {
        try file.createRowDataset("features/embedding", of: Float.self, shape: rowShape + [batch.embeddingSize])
        var made = [("features/embedding", batch.embeddingSize)]
        for a in batch.attention {
            let name = "features/attention_" + a.name
            try file.createRowDataset(name, of: Float.self, shape: rowShape + [a.height * a.width])
            try file.setAttribute("channels", .int(Int64(a.channels)), on: name)
            try file.setAttribute("height", .int(Int64(a.height)), on: name)
            try file.setAttribute("width", .int(Int64(a.width)), on: name)
            made.append((name, a.height * a.width))
        }
        features = try made.map { name, size in
            guard let rows = try RowFile(file, dataset: name, elementBytes: 4, rowElements: size, writable: true) else {
                throw KDError(file: file.path, "cannot lay out '\(name)'")
            }
            return (name, rows)
        }
    }

    /// `LogitsFile.checksum(features)` over the written features, read back a block at a time.
    private func featuresChecksum() throws -> String {
        var h = SHA256()
        for (_, rows) in features {
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
