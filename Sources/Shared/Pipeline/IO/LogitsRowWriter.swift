import Engine

/// Writes rows into a logits file whose datasets already exist (`LogitsFileWriter` made them):
/// each batch's logits encoded as the file stores them (`LogitsCodec`), and its features, at the
/// batch's own rows, with `pwrite`. It counts the rows whose rebuilt logits put the label first,
/// and hashes the parts while the rows come in order from the first. Every process of an MPI
/// export has one, opened on the same file from the layout the first process sends it, and
/// writes only its own rows.
public final class LogitsRowWriter {
    /// Where the datasets lie: the logits parts in `LogitsCodec` order, then the features.
    public struct Layout: Codable, Equatable, Sendable {
        public var parts: [RowLayout]
        public var features: [RowLayout]
    }

    let codec: LogitsCodec
    private let rowLabels: [Int32]
    private let parts: [RowFile]
    private let features: [RowFile]
    /// Rows whose decoded logits have the label as their arg-max.
    public private(set) var correct = 0
    /// The parts' SHA-256 over rows 0..<hashedRows, while rows are written in order.
    private(set) var hashes: [SHA256]
    private(set) var hashedRows = 0

    init(codec: LogitsCodec, rowLabels: [Int32], parts: [RowFile], features: [RowFile]) {
        self.codec = codec; self.rowLabels = rowLabels; self.parts = parts; self.features = features
        hashes = parts.map { _ in SHA256() }
    }

    /// Opens the datasets of `layout` in the file at `path` for writing.
    public convenience init(path: String, layout: Layout, encoding: LogitsEncoding, classes: Int, rowLabels: [Int32]) throws {
        try self.init(codec: LogitsCodec(encoding, classes: classes), rowLabels: rowLabels,
                      parts: layout.parts.map { try RowFile(path: path, at: $0, writable: true) },
                      features: layout.features.map { try RowFile(path: path, at: $0, writable: true) })
    }

    public var layout: Layout { Layout(parts: parts.map(\.layout), features: features.map(\.layout)) }

    /// Writes rows `first..<first + count`: their float32 logits [count, K] and, for a file
    /// with features, their features.
    public func write(_ first: Int, count: Int, logits: UnsafePointer<Float>, features batch: ModelFeatures?) throws {
        guard count > 0 else { return }
        precondition(first + count <= rowLabels.count, "rows beyond the file")
        precondition((batch == nil) == features.isEmpty, "features for a file without them, or none for one with them")
        let buffers = codec.parts.map { UnsafeMutableRawPointer.allocate(byteCount: count * $0.rowBytes, alignment: 16) }
        defer { buffers.forEach { $0.deallocate() } }
        if codec.isPlainFloat32 {
            buffers[0].copyMemory(from: logits, byteCount: count * codec.classes * 4)
        } else {
            try codec.encode(logits, count: count, into: buffers)
        }
        tally(buffers, first: first, count: count, logits: logits)
        for (i, part) in parts.enumerated() {
            try part.write(first, count: count, from: buffers[i])
            if first == hashedRows { hashes[i].update(UnsafeRawBufferPointer(start: buffers[i], count: count * part.rowBytes)) }
        }
        if first == hashedRows { hashedRows += count }
        if let batch {
            for (i, values) in ([batch.embedding] + batch.attention.map(\.values)).enumerated() {
                try values.withUnsafeBytes { try features[i].write(first, count: count, from: $0.baseAddress!) }
            }
        }
    }

    /// Flushes what this process wrote to the file.
    public func sync() throws {
        for f in parts + features { try f.sync() }
    }

    /// Counts the rows whose logits, as a student rebuilds them, have the label first.
    private func tally(_ buffers: [UnsafeMutableRawPointer], first: Int, count: Int, logits: UnsafePointer<Float>) {
        let k = codec.classes
        let parts = buffers.map { UnsafeRawPointer($0) }
        var decoded = [Float](repeating: 0, count: codec.encoding.topK == nil && !codec.isPlainFloat32 ? count * k : 0)
        if !decoded.isEmpty { decoded.withUnsafeMutableBufferPointer { codec.decode(parts, count: count, into: $0.baseAddress!) } }
        decoded.withUnsafeBufferPointer { d in
            for r in 0..<count {
                let predicted = codec.encoding.topK != nil ? codec.summary(parts, row: r).argmax
                    : Predictions.argmax((codec.isPlainFloat32 ? logits : d.baseAddress!) + r * k, classes: k)
                if predicted == Int(rowLabels[first + r]) { correct += 1 }
            }
        }
    }
}
