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

    /// Free bytes the pool may hold beyond the live peak: `minimumSlackBytes`, or a sixteenth of
    /// the peak if more. (Measured with ResNet-18 and -50 at 224: a thirty-second saves little
    /// more memory and costs more time.)
    package var slackBytes: Int { max(minimumSlackBytes, peakLiveBytes / 16) }
    let minimumSlackBytes: Int

    package init(minimumSlackBytes: Int = 64 << 20) { self.minimumSlackBytes = minimumSlackBytes }

    package func take(_ byteCount: Int) -> UnsafeMutableRawPointer {
        liveBytes += byteCount
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let buffer = free[byteCount]?.popLast() {
            if free[byteCount]!.isEmpty { free[byteCount] = nil }
            freeBytes -= byteCount
            return buffer.pointer
        }
        while liveBytes + freeBytes > peakLiveBytes + slackBytes, releaseLongestUnused() {}
        return HugePages.allocate(byteCount)
    }

    package func give(_ pointer: UnsafeMutableRawPointer, _ byteCount: Int) {
        liveBytes -= byteCount
        freeBytes += byteCount
        clock += 1
        free[byteCount, default: []].append(Buffer(pointer: pointer, freedAt: clock))
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
