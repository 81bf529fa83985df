import Glibc

/// Tensor buffers of 2 MiB and more as mappings of their own, starting on a 2 MiB boundary,
/// their whole 2 MiB pieces advised as transparent huge pages (used where the kernel allows
/// them, `madvise` mode included: one fault and one TLB entry per 2 MiB) and the rest in small
/// pages, so that nothing is rounded up beyond a small page. Unmapping one returns its memory
/// to the system at once, where glibc would keep a freed heap block below 32 MiB. Smaller
/// buffers come from malloc.
package enum HugePages {
    package static let size = 2 << 20
    static let smallPage = 4096

    package static func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        guard byteCount >= size else { return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64) }
        let length = mappedLength(byteCount)
        guard let raw = mmap(nil, length + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            fatalError("out of memory: could not map \(byteCount) bytes for a tensor")
        }
        // Keep `length` bytes from the first 2 MiB boundary.
        let start = (Int(bitPattern: raw) + size - 1) / size * size
        let head = start - Int(bitPattern: raw)
        if head > 0 { munmap(raw, head) }
        munmap(UnsafeMutableRawPointer(bitPattern: start + length), size - head)
        let p = UnsafeMutableRawPointer(bitPattern: start)!
        madvise(p, length / size * size, MADV_HUGEPAGE)
        return p
    }

    package static func deallocate(_ pointer: UnsafeMutableRawPointer, _ byteCount: Int) {
        if byteCount >= size { munmap(pointer, mappedLength(byteCount)) } else { pointer.deallocate() }
    }

    private static func mappedLength(_ byteCount: Int) -> Int { (byteCount + smallPage - 1) / smallPage * smallPage }
}
