import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rows of one contiguous HDF5 dataset (`HDF5File.createRowDataset`), read straight from
/// the file with `pread` (and written with `pwrite` while an export fills it): any rows, in any
/// order, from any thread, without HDF5 (which is not thread-safe) and without holding the
/// dataset in memory. A row is `rowElements` values: by default all but the first dimension,
/// or fewer (a logits file's [N, V, K] read by view: K).
public final class RowFile: @unchecked Sendable {
    public let path: String
    /// Bytes per row, and rows.
    public let rowBytes: Int
    public let rows: Int
    /// The dataset the rows belong to.
    public let name: String
    private let offset: Int
    private let fd: Int32

    /// Opens dataset `name` of `file`, whose element size is `elementBytes`; nil when the dataset
    /// is not stored contiguously (an older, chunked file), which is then read through HDF5.
    public convenience init?(_ file: HDF5File, dataset name: String, elementBytes: Int, rowElements: Int? = nil, writable: Bool = false) throws {
        guard let offset = try file.contiguousOffset(of: name) else { return nil }
        let shape = try file.shape(of: name)
        let perRow = rowElements ?? shape.dropFirst().reduce(1, *)
        guard !shape.isEmpty, perRow > 0, shape.reduce(1, *) % perRow == 0 else { return nil }
        try self.init(path: file.path, at: RowLayout(name: name, offset: offset, rows: shape.reduce(1, *) / perRow,
                                                     rowBytes: perRow * elementBytes), writable: writable)
    }

    /// Opens the rows `layout` places in the file at `path`, without HDF5: how the other
    /// processes of an MPI export write their rows into the file the first one made.
    public init(path: String, at layout: RowLayout, writable: Bool = false) throws {
        let fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw KDError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        self.path = path
        self.offset = layout.offset
        self.rows = layout.rows
        self.rowBytes = layout.rowBytes
        self.fd = fd
        self.name = layout.name
    }

    deinit { close(fd) }

    /// Where the rows lie: enough to open them again in another process.
    public var layout: RowLayout { RowLayout(name: name, offset: offset, rows: rows, rowBytes: rowBytes) }

    /// Waits until the rows written have reached the file (fsync), for readers in other processes
    /// or on other machines.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw KDError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
    }

    /// Copies rows `first..<first + count` to `destination`.
    public func read(_ first: Int, count: Int, into destination: UnsafeMutableRawPointer) throws {
        try transfer(first, count, reading: true) { pread(fd, destination + $0, $1, $2) }
    }

    /// Writes rows `first..<first + count` from `source` (a file opened `writable`).
    public func write(_ first: Int, count: Int, from source: UnsafeRawPointer) throws {
        try transfer(first, count, reading: false) { pwrite(fd, source + $0, $1, $2) }
    }

    /// Moves the bytes of rows `first..<first + count` with `call(done, left, fileOffset)`
    /// (pread or pwrite) until all have gone, retrying partial and interrupted calls.
    private func transfer(_ first: Int, _ count: Int, reading: Bool, _ call: (Int, Int, off_t) -> Int) throws {
        precondition(first >= 0 && first + count <= rows, "rows \(first)..<\(first + count) of \(rows)")
        var done = 0
        let total = count * rowBytes
        while done < total {
            let n = call(done, total - done, off_t(offset + first * rowBytes + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n == 0 && reading ? "ends early (truncated?)" : "cannot \(reading ? "read" : "write"): \(String(cString: strerror(errno)))"
                throw KDError(file: path, reason)
            }
            done += n
        }
    }

    /// Copies the rows at `indices`, in that order, to `destination` (room for all of them).
    /// Runs of consecutive rows are read in one call.
    public func gather(_ indices: [Int], into destination: UnsafeMutableRawPointer) throws {
        var i = 0
        while i < indices.count {
            var run = 1
            while i + run < indices.count && indices[i + run] == indices[i] + run { run += 1 }
            try read(indices[i], count: run, into: destination + i * rowBytes)
            i += run
        }
    }
}
