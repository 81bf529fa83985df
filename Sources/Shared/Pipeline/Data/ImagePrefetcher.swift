import Dispatch
import Engine
import Foundation

/// Reads a streamed dataset's coming batches of images on a background thread while the
/// current one trains, so the cores do not wait on the disk. `start` the indices of a batch to
/// come, then `take` them (or consecutive parts of them: micro-batches, this process's share).
/// The two latest reads are kept; anything else is read on the spot.
final class ImagePrefetcher: @unchecked Sendable {
    private final class Read: @unchecked Sendable {
        let indices: [Int]
        let buffer: UnsafeMutablePointer<UInt8>
        let done = DispatchGroup()
        var error: Error?

        init(_ indices: [Int], imageSize: Int) {
            self.indices = indices
            buffer = .allocate(capacity: max(1, indices.count * imageSize))
        }

        deinit { done.wait(); buffer.deallocate() }
    }

    private let dataset: Dataset
    private let queue = DispatchQueue(label: "kd.image-prefetch")
    private let lock = NSLock()
    private var reads: [Read] = []
    static let kept = 2

    init(_ dataset: Dataset) { self.dataset = dataset }

    /// Starts reading the images of `indices`.
    func start(_ indices: [Int]) {
        let read = Read(indices, imageSize: dataset.imageSize)
        lock.lock()
        reads.append(read)
        if reads.count > Self.kept { reads.removeFirst() }
        lock.unlock()
        queue.async(group: read.done) { [dataset] in
            do { try dataset.copyImages(indices, into: read.buffer) } catch { read.error = error }
        }
    }

    /// Calls `body` with the images of `indices`, one after another: from a started read when
    /// they are a consecutive part of it (the reads before it are dropped), else read now.
    func take(_ indices: [Int], _ body: (UnsafePointer<UInt8>) -> Void) throws {
        lock.lock()
        let match = reads.enumerated().lazy.compactMap { (k, read) in Self.offset(of: indices, in: read.indices).map { (k, read, $0) } }.first
        if let (k, _, _) = match { reads.removeFirst(k) }
        lock.unlock()
        if let (_, read, offset) = match {
            read.done.wait()
            if let error = read.error { throw error }
            body(read.buffer + offset * dataset.imageSize)
            return
        }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, indices.count * dataset.imageSize))
        defer { buffer.deallocate() }
        try dataset.copyImages(indices, into: buffer)
        body(buffer)
    }

    /// Where `part` starts in `whole` when it is a consecutive run of it.
    static func offset(of part: [Int], in whole: [Int]) -> Int? {
        guard let first = part.first else { return 0 }
        var start = 0
        while start < whole.count, let i = whole[start...].firstIndex(of: first) {
            if i + part.count <= whole.count && whole[i..<(i + part.count)].elementsEqual(part) { return i }
            start = i + 1
        }
        return nil
    }
}
