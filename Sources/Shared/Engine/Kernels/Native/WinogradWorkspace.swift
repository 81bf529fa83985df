/// The Winograd kernel's per-call storage (transformed weights in training, tile scratch,
/// per-thread weight-gradient sums) for calls of up to `maxBytes`: one buffer for all of them,
/// grown to the largest. Larger calls take pooled storage.
///
/// From the tensor pool, each narrow layer's buffers of their own sizes stayed there between
/// steps, beside the activations: cnn5's training peak 114 MiB on AVX-512 against 107 without
/// Winograd, 110 with this buffer. Wide layers' buffers are better pooled, where activations of
/// their sizes reuse them: all calls here took vgg13's to 403 MiB from 387.
///
/// Used only from the training thread, like the rest of the engine; what `floats` returns is
/// valid until the next call.
final class WinogradWorkspace: @unchecked Sendable {
    static let shared = WinogradWorkspace()

    private var pointer: UnsafeMutableRawPointer?
    private var byteCount = 0

    static let maxBytes = 6 << 20

    /// At least `count` floats, 64-byte aligned; nil past `maxBytes`.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float>? {
        let needed = (count * 4 + 63) / 64 * 64
        guard needed <= Self.maxBytes else { return nil }
        if needed > byteCount {
            if let pointer { HugePages.deallocate(pointer, byteCount) }
            pointer = HugePages.allocate(needed)
            byteCount = needed
        }
        return pointer!.bindMemory(to: Float.self, capacity: byteCount / 4)
    }
}
