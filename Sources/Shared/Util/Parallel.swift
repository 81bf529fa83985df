import Dispatch

/// Splits 0..<count into one chunk per core (boundaries on multiples of 16, so SIMD loads
/// stay aligned) and runs `body` on each concurrently; small counts run inline.
/// For memory-bound element-wise loops, between oneDNN calls (never at the same time as
/// oneDNN's OpenMP threads).
@inline(__always)
func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 15, _ body: @Sendable (Range<Int>) -> Void) {
    let cores = ProcessInfoCache.cores
    let chunks = min(cores, count / minimumChunk)
    if chunks <= 1 { body(0..<count); return }
    let per = ((count + chunks - 1) / chunks + 15) & ~15
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let start = c * per
        if start < count { body(start..<min(start + per, count)) }
    }
}

enum ProcessInfoCache {
    static let cores: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif
