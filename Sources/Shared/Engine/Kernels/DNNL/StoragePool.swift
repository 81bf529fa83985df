/// Recycles tensor storage by size, most recently freed first, the way PyTorch's caching
/// allocator does: a short-lived tensor (an evaluation-mode activation, a gradient that the
/// previous layer consumes at once) lands in a buffer that is still in cache.
///
/// Used only from the training thread (tensors are created and released between oneDNN
/// calls), like the rest of the engine.
final class StoragePool: @unchecked Sendable {
    static let shared = StoragePool()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]

    func take(_ byteCount: Int) -> UnsafeMutableRawPointer {
        if let p = free[byteCount]?.popLast() { return p }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func give(_ pointer: UnsafeMutableRawPointer, _ byteCount: Int) {
        free[byteCount, default: []].append(pointer)
    }
}
