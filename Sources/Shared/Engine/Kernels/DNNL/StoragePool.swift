/// Recycles tensor storage by size, most recently freed first, the way PyTorch's caching
/// allocator does: a short-lived tensor (an evaluation-mode activation, a gradient that the
/// previous layer consumes at once) lands in a buffer that is still in cache, and a training
/// step after the first allocates next to nothing.
///
/// Exact sizes alone let the pool grow well past what is ever in use at once: backward frees
/// the last stage's activations, whose sizes the first stage's gradients cannot use (ResNet-50
/// at 224 and batch 32: 480 MiB held free at the peak, 2.8 GiB live). So a miss that would take
/// the pool more than `slackBytes` above the most ever live first hands back to the system the
/// free buffers unused for longest. Large models then fault some pages in again each step
/// (about a tenth of a ResNet-18 training step at 224; `HugePages` makes each fault cover
/// 2 MiB); small ones stay within the slack and never do.
///
/// Where no buffer of the exact size is free, a large request takes one up to a quarter larger
/// (`takeLarger`), so that sizes close to each other share buffers instead of evicting each
/// other: the engine's Winograd storage (whole MiB) beside activations of 4, 8 and 16 MiB had
/// mapped afresh 8 buffers each step of resnet8x4 at 3x32x32 and 15 of vgg13's; none since,
/// their training peaks 317 -> 310 and 363 -> 343 MiB, resnet8x4's steps 1.06x faster
/// (AVX-512, BENCHMARKS.md).
///
/// Used only from the training thread (tensors are created and released between oneDNN
/// calls), like the rest of the engine.
package final class StoragePool: @unchecked Sendable {
    static let shared = StoragePool()

    private struct Buffer { let pointer: UnsafeMutableRawPointer; let freedAt: Int }
    /// Free buffers by byte count, the most recently freed last.
    private var free: [Int: [Buffer]] = [:]
    /// Bytes handed out and not given back, bytes held free, the most ever handed out at once.
    package private(set) var liveBytes = 0, freeBytes = 0, peakLiveBytes = 0
    private var clock = 0
    /// The sizes of the buffers lent for smaller requests (`takeLarger`), by address.
    private var lentLarger: [UnsafeMutableRawPointer: Int] = [:]

    /// Free bytes the pool may hold beyond the live peak: `minimumSlackBytes`, or a sixteenth of
    /// the peak if more. (Measured with ResNet-18 and -50 at 224: a thirty-second saves little
    /// more memory and costs more time.)
    package var slackBytes: Int { max(minimumSlackBytes, peakLiveBytes / 16) }
    let minimumSlackBytes: Int

    package init(minimumSlackBytes: Int = 64 << 20) { self.minimumSlackBytes = minimumSlackBytes }

    package func take(_ byteCount: Int) -> UnsafeMutableRawPointer {
        liveBytes += byteCount
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let pointer = popMostRecent(byteCount) { return pointer }
        if let larger = takeLarger(byteCount) { return larger }
        while liveBytes + freeBytes > peakLiveBytes + slackBytes, releaseLongestUnused() {}
        return HugePages.allocate(byteCount)
    }

    package func give(_ pointer: UnsafeMutableRawPointer, _ requested: Int) {
        let byteCount = lentLarger.removeValue(forKey: pointer) ?? requested
        liveBytes -= byteCount
        freeBytes += byteCount
        clock += 1
        free[byteCount, default: []].append(Buffer(pointer: pointer, freedAt: clock))
    }

    /// The most recently freed buffer of the smallest free size above `byteCount` and at most a
    /// quarter larger, for a request of at least `HugePages.size`; it counts as live at its own
    /// size until given back.
    private func takeLarger(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        guard byteCount >= HugePages.size,
              let size = free.keys.filter({ $0 > byteCount && $0 <= byteCount + byteCount / 4 }).min(),
              let pointer = popMostRecent(size) else { return nil }
        liveBytes += size - byteCount
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lentLarger[pointer] = size
        return pointer
    }

    /// Takes the most recently freed buffer of exactly `size` bytes off the free lists.
    private func popMostRecent(_ size: Int) -> UnsafeMutableRawPointer? {
        guard let buffer = free[size]?.popLast() else { return nil }
        if free[size]!.isEmpty { free[size] = nil }
        freeBytes -= size
        return buffer.pointer
    }

    /// Frees the buffer that has been free the longest; false when none is.
    private func releaseLongestUnused() -> Bool {
        // The oldest buffer of each size is first in its list; there are a few dozen sizes.
        guard let size = free.min(by: { $0.value[0].freedAt < $1.value[0].freedAt })?.key else { return false }
        let buffer = free[size]!.removeFirst()
        if free[size]!.isEmpty { free[size] = nil }
        freeBytes -= size
        HugePages.deallocate(buffer.pointer, size)
        return true
    }
}
