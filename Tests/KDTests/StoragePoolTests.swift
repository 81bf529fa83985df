import XCTest
import Engine

/// The tensor pool: exact sizes reused most recent first, and a bound on what it holds free, so
/// that a large model's peak stays near what is live at once.
final class StoragePoolTests: XCTestCase {
    private let mib = 1 << 20

    /// Takes `count` buffers of `size` bytes, fills buffer i with the byte i + 1, gives them back
    /// in order (so the first is the one unused for longest).
    private func freeFilledBuffers(_ pool: StoragePool, count: Int, size: Int) {
        let buffers = (0..<count).map { _ in pool.take(size) }
        for (i, p) in buffers.enumerated() { p.initializeMemory(as: UInt8.self, repeating: UInt8(i + 1), count: size) }
        for p in buffers { pool.give(p, size) }
    }

    func testAMissBeyondThePeakReleasesTheBuffersUnusedForLongest() {
        let pool = StoragePool(minimumSlackBytes: 0)
        freeFilledBuffers(pool, count: 4, size: 3 * mib)  // 12 MiB live at the peak
        let big = pool.take(8 * mib)  // 20 MiB in all unless some go
        XCTAssertEqual(pool.liveBytes, 8 * mib)
        XCTAssertEqual(pool.freeBytes, 3 * mib, "buffers 1-3 released, 4 kept")
        XCTAssertLessThanOrEqual(pool.liveBytes + pool.freeBytes, pool.peakLiveBytes + pool.slackBytes)
        XCTAssertEqual(big.load(fromByteOffset: 8 * mib - 1, as: UInt8.self), 0, "a fresh buffer")
        let again = pool.take(3 * mib)
        XCTAssertEqual(again.load(as: UInt8.self), 4, "the most recently freed buffer is the one kept")
    }

    func testSmallModelsKeepEveryBuffer() {
        let pool = StoragePool()  // 64 MiB of slack
        freeFilledBuffers(pool, count: 4, size: 3 * mib)
        _ = pool.take(8 * mib)
        XCTAssertEqual(pool.freeBytes, 12 * mib)
    }

    func testRepeatedStepsReuseTheSameBuffers() {
        let pool = StoragePool(minimumSlackBytes: 0)
        // A step: activations of three sizes live together, then gradients of the first one.
        func step() -> Set<UnsafeMutableRawPointer> {
            let sizes = [3 * mib, 5 * mib, 100, 3 * mib]
            let taken = sizes.map { pool.take($0) }
            for (p, size) in zip(taken, sizes) { pool.give(p, size) }
            let gradients = [pool.take(3 * mib), pool.take(3 * mib)]
            for p in gradients { pool.give(p, 3 * mib) }
            return Set(taken + gradients)
        }
        _ = step()
        let second = step()
        XCTAssertEqual(step(), second)
        XCTAssertEqual(pool.freeBytes, 11 * mib + 100)
    }

    func testLargeBuffersStartOnAHugePageAndAreWholeWritable() {
        let count = 5 * mib + 1
        let p = HugePages.allocate(count)
        XCTAssertEqual(Int(bitPattern: p) % HugePages.size, 0)
        p.initializeMemory(as: UInt8.self, repeating: 7, count: count)
        XCTAssertEqual(p.load(fromByteOffset: count - 1, as: UInt8.self), 7)
        HugePages.deallocate(p, count)
    }
}
