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

    func testAMissTakesAFreeBufferUpToAQuarterLarger() {
        let pool = StoragePool()
        let (sixteen, twentyOne) = (pool.take(16 * mib), pool.take(21 * mib))
        pool.give(sixteen, 16 * mib)
        pool.give(twentyOne, 21 * mib)
        let thirteen = pool.take(13 * mib)  // 16 MiB is within a quarter, 21 is not
        XCTAssertEqual(thirteen, sixteen)
        XCTAssertEqual([pool.liveBytes, pool.freeBytes], [16 * mib, 21 * mib], "lent at its own size")
        let twelve = pool.take(12 * mib)  // a quarter more is 15 MiB: a fresh buffer
        XCTAssertFalse([sixteen, twentyOne].contains(twelve))
        pool.give(thirteen, 13 * mib)
        pool.give(twelve, 12 * mib)
        XCTAssertEqual([pool.liveBytes, pool.freeBytes], [0, 49 * mib])
        XCTAssertEqual(pool.take(16 * mib), sixteen, "back in the pool at its own size")
        let small = pool.take(mib + mib / 8)
        pool.give(small, mib + mib / 8)
        XCTAssertNotEqual(pool.take(mib), small, "under 2 MiB (malloc's), exact sizes only")
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
