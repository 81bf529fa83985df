import Engine

/// A logits file's rows as they are stored (`LogitsCodec`'s parts: dense float16, top-k, or
/// float32 too large for memory), in memory or read by row from the file, decoded to float32
/// rows when asked. What keeps a top-5 export of a thousand classes as small in memory as on disk.
public final class StoredLogits: @unchecked Sendable {
    /// One part's bytes: all of them in memory, or the rows in the file.
    enum Source {
        case memory([UInt8])
        case file(RowFile)
    }

    let codec: LogitsCodec
    let rows: Int
    private let sources: [Source]

    init(codec: LogitsCodec, rows: Int, sources: [Source]) {
        precondition(sources.count == codec.parts.count, "one source per part")
        self.codec = codec; self.rows = rows; self.sources = sources
    }

    /// Whether the rows are read from the file (else they are in memory).
    public var isOnDisk: Bool { sources.contains { if case .file = $0 { true } else { false } } }

    /// The float32 logits of `indices`, row-major [indices.count, K].
    func decode(_ indices: [Int]) throws -> [Float] {
        var out = [Float](repeating: 0, count: indices.count * codec.classes)
        try withParts(of: indices) { parts in
            out.withUnsafeMutableBufferPointer { codec.decode(parts, count: indices.count, into: $0.baseAddress!) }
        }
        return out
    }

    /// Calls `body(firstRow, count, parts)` for consecutive blocks of rows, in order, with each
    /// part's stored bytes of the block: one pass over the rows for checking them.
    func forEachBlock(_ body: (Int, Int, [UnsafeRawPointer]) throws -> Void) throws {
        let block = max(1, (1 << 22) / max(codec.rowBytes, 1))
        for first in stride(from: 0, to: rows, by: block) {
            let n = min(block, rows - first)
            try withParts(of: Array(first..<(first + n))) { try body(first, n, $0) }
        }
    }

    /// Runs `body` with each part's bytes of the rows `indices`, in that order.
    private func withParts(of indices: [Int], _ body: ([UnsafeRawPointer]) throws -> Void) throws {
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        for (part, source) in zip(codec.parts, sources) {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(indices.count * part.rowBytes, 1), alignment: 16)
            buffers.append(buffer)
            switch source {
            case .file(let rows): try rows.gather(indices, into: buffer)
            case .memory(let bytes):
                bytes.withUnsafeBytes { all in
                    for (i, row) in indices.enumerated() {
                        (buffer + i * part.rowBytes).copyMemory(from: all.baseAddress! + row * part.rowBytes, byteCount: part.rowBytes)
                    }
                }
            }
        }
        try body(buffers.map { UnsafeRawPointer($0) })
    }
}
