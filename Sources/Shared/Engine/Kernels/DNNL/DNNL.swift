internal import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// The process-wide oneDNN CPU engine and its in-order stream.
///
/// oneDNN 2.6's C API; every handle imports as `OpaquePointer`. All oneDNN calls of the project
/// live in this folder and in the layers, so a move to oneDNN 3.x touches only these places.
/// Not thread-safe: one training loop drives one stream.
public final class DNNL: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    public static let shared = DNNL()

    private init() {
        var engine: dnnl_engine_t?
        var stream: dnnl_stream_t?
        guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine,
              dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success, let stream
        else { fatalError("oneDNN: cannot create the CPU engine and stream") }
        self.engine = engine
        self.stream = stream
    }

    /// Blocks until every submitted primitive has run.
    public func wait() { dnnl_stream_wait(stream) }

    /// The instruction set oneDNN dispatches to, in `DNNL_MAX_CPU_ISA`'s spelling ("AVX2",
    /// "AVX512_CORE_BF16", ...): the machine's, or lower where that variable caps it.
    public static var effectiveISA: String {
        let names: [UInt32: String] = [0x1: "SSE41", 0x3: "AVX", 0x7: "AVX2", 0x407: "AVX2_VNNI", 0x27: "AVX512_CORE",
                                       0x67: "AVX512_CORE_VNNI", 0xe7: "AVX512_CORE_BF16", 0x3e7: "AVX512_CORE_AMX"]
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return names[isa] ?? "ISA 0x\(String(isa, radix: 16))"
    }
}

/// Fails loudly on a oneDNN error: these are programming errors (bad shapes), not user input.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    if status != dnnl_success {
        fflush(nil)  // keep DNNL_VERBOSE's lines, which go to stdout
        fatalError("oneDNN: \(what()) failed with status \(status.rawValue)")
    }
}

// MARK: - Memory descriptors

/// A oneDNN memory descriptor (a plain C struct in 2.x): logical dims, data type and layout.
public struct MemoryDesc: Equatable {
    var raw: dnnl_memory_desc_t

    init(raw: dnnl_memory_desc_t) { self.raw = raw }

    /// float32 `dims` in the layout `tag` (`dnnl_format_tag_any` lets a primitive choose).
    init(_ dims: [Int], _ tag: dnnl_format_tag_t) {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), "memory_desc_init_by_tag \(dims)")
        raw = md
    }

    /// Row-major float32 `dims` (nchw, nc, oihw, x, ...).
    public static func plain(_ dims: [Int]) -> MemoryDesc {
        let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde]
        return MemoryDesc(dims, tags[dims.count - 1])
    }

    /// float32 [N, C, H, W] in oneDNN's nChw8c: channels in blocks of 8 (zero-padded),
    /// innermost; the layout oneDNN's AVX2 kernels pick for activations.
    public static func blocked8(_ dims: [Int]) -> MemoryDesc { MemoryDesc(dims, dnnl_nChw8c) }

    /// nChw16c, what oneDNN's AVX-512 kernels pick.
    public static func blocked16(_ dims: [Int]) -> MemoryDesc { MemoryDesc(dims, dnnl_nChw16c) }

    /// float32 [N, C, H, W] stored as nhwc (PyTorch's channels_last).
    public static func channelsLast(_ dims: [Int]) -> MemoryDesc { MemoryDesc(dims, dnnl_nhwc) }

    /// Lets the primitive pick the layout.
    public static func any(_ dims: [Int]) -> MemoryDesc { MemoryDesc(dims, dnnl_format_tag_any) }

    /// Logical dims.
    public var dims: [Int] {
        withUnsafeBytes(of: raw.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(raw.ndims))).map(Int.init) }
    }

    /// Bytes of storage, padding included.
    public var byteCount: Int {
        var md = raw
        return dnnl_memory_desc_get_size(&md)
    }

    /// Whether this is the row-major layout of its dims.
    public var isPlain: Bool { self == MemoryDesc.plain(dims) }

    /// The same dims reinterpreted under another shape (only for plain layouts).
    public func reshaped(_ newDims: [Int]) -> MemoryDesc {
        precondition(isPlain && newDims.reduce(1, *) == dims.reduce(1, *), "reshape needs a plain layout of equal size")
        return .plain(newDims)
    }

    public static func == (a: MemoryDesc, b: MemoryDesc) -> Bool {
        var x = a.raw, y = b.raw
        return dnnl_memory_desc_equal(&x, &y) != 0
    }
    public static func != (a: MemoryDesc, b: MemoryDesc) -> Bool { !(a == b) }
}
