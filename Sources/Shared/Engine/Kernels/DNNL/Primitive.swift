internal import CDNNL
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A created oneDNN primitive and its primitive descriptor (for layout queries).
/// Created once per shape and reused across steps.
public final class Primitive {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    /// What it computes, for error messages.
    let what: String
    /// The implementation oneDNN chose, e.g. "jit:avx2", "x64:gemm:jit" or "ref:any".
    let implementation: String
    /// A `ref:` implementation is a naive loop, 10-100x slower than a JIT kernel: each run is
    /// recorded in `ReferenceKernels` so a test can name it.
    private let isReference: Bool

    /// Creates the primitive for an operation descriptor (`op` points to a dnnl_*_desc_t).
    /// `hint` is the forward primitive descriptor that backward primitives require.
    convenience init(op: UnsafeRawPointer, hint: Primitive? = nil, attributes: PostOps? = nil, what: String) {
        let (status, pd) = Self.describe(op, hint: hint, attributes: attributes)
        dnnlCheck(status, "\(what) descriptor")
        self.init(pd: pd!, what: what)
    }

    /// nil where oneDNN has no implementation for the descriptor.
    convenience init?(trying op: UnsafeRawPointer, hint: Primitive? = nil, attributes: PostOps? = nil, what: String) {
        let (status, pd) = Self.describe(op, hint: hint, attributes: attributes)
        guard status == dnnl_success, let pd else { return nil }
        self.init(pd: pd, what: what)
    }

    /// The primitive descriptor for an operation, with the given attributes or the default
    /// ones (`PostOps` without post-ops: a caller-provided scratchpad).
    private static func describe(_ op: UnsafeRawPointer, hint: Primitive?, attributes: PostOps?) -> (dnnl_status_t, dnnl_primitive_desc_t?) {
        var pd: dnnl_primitive_desc_t?
        let attributes = attributes ?? PostOps(relu: false)
        let status = withExtendedLifetime(attributes) {
            dnnl_primitive_desc_create(&pd, op, attributes.attr, DNNL.shared.engine, hint?.pd)
        }
        return (status, pd)
    }

    init(pd: dnnl_primitive_desc_t, what: String) {
        var prim: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&prim, pd), "\(what) primitive")
        self.pd = pd
        self.primitive = prim!
        self.what = what
        implementation = Self.implementation(of: pd)
        isReference = implementation.hasPrefix("ref:")
        let scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).map { MemoryDesc(raw: $0.pointee) }
        scratchpad = scratch.flatMap { $0.byteCount > 0 ? $0 : nil }
    }

    /// The scratch memory the primitive needs while it runs, where the caller provides it
    /// (`PostOps` asks for that): taken from the pool for each run, so it is not held between
    /// runs beside the activations (Winograd's transformed tensors are tens of MiB).
    private let scratchpad: MemoryDesc?
    var scratchpadBytes: Int { scratchpad?.byteCount ?? 0 }

    private static func implementation(of pd: dnnl_primitive_desc_t) -> String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info else { return "?" }
        return String(cString: info)
    }

    /// "what (impl) src [dims] weights [dims] ...": enough to find the layer.
    var summary: String {
        let queries: [(String, dnnl_query_t)] = [("src", dnnl_query_src_md), ("weights", dnnl_query_weights_md),
                                                 ("diff_weights", dnnl_query_diff_weights_md), ("diff_src", dnnl_query_diff_src_md), ("dst", dnnl_query_dst_md),
                                                 ("diff_dst", dnnl_query_diff_dst_md)]
        let shapes = queries.compactMap { name, q -> String? in
            guard let md = dnnl_primitive_desc_query_md(pd, q, 0), md.pointee.ndims > 0 else { return nil }
            return "\(name) \(MemoryDesc(raw: md.pointee).dims)"
        }
        return "\(what) (\(implementation)) " + shapes.joined(separator: " ")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    /// The memory descriptor the primitive chose for `query` (e.g. `dnnl_query_src_md`).
    func desc(_ query: dnnl_query_t, _ index: Int32 = 0) -> MemoryDesc {
        guard let md = dnnl_primitive_desc_query_md(pd, query, index) else {
            fatalError("oneDNN: primitive has no memory descriptor for query \(query.rawValue)")
        }
        return MemoryDesc(raw: md.pointee)
    }

    /// Runs the primitive on the shared stream with (DNNL_ARG_*, tensor) arguments, and waits.
    func execute(_ args: [(Int32, Tensor)]) {
        if isReference { ReferenceKernels.record(self) }
        var args = args
        if let scratchpad {
            // Large scratchpads rounded up to 16 MiB, so that the pool keeps one buffer for all
            // of them rather than one of each size (the Winograd layers of a model ask for
            // 7-10 MiB each, no two alike).
            let granule = scratchpad.byteCount >= 1 << 20 ? 16 << 20 : 1
            args.append((DNNL_ARG_SCRATCHPAD, Tensor(pooled: scratchpad, zeroed: false, roundedUp: granule)))
        }
        let list = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        // The tensors (the scratchpad above all, which nothing else holds) must outlive the run.
        withExtendedLifetime(args) {
            dnnlCheck(dnnl_primitive_execute(primitive, DNNL.shared.stream, Int32(list.count), list), "executing \(what)")
            DNNL.shared.wait()
        }
    }
}

/// The `ref:` (naive) oneDNN kernels this process has run, by summary, each once.
/// `kd-bench audit` prints them; the engine's layers avoid them where oneDNN offers a JIT
/// kernel under another layout.
public enum ReferenceKernels {
    private static let seen = LockedList()

    static func record(_ p: Primitive) { seen.insert(p.summary) }

    /// Summaries of the reference kernels run since the start (or `clear()`), in first-run order.
    public static var executed: [String] { seen.items }

    public static func clear() { seen.clear() }

    /// A list of distinct strings that any thread may add to (behind a pthread mutex: the engine
    /// does not import Foundation).
    private final class LockedList: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
            let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            pthread_mutex_init(m, nil)
            return m
        }()
        private var list: [String] = []

        private func locked<T>(_ body: () -> T) -> T {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }

        var items: [String] { locked { list } }
        func insert(_ s: String) { locked { if !list.contains(s) { list.append(s) } } }
        func clear() { locked { list.removeAll() } }
    }
}

/// Layout conversion between two tensors of the same logical shape.
public enum Reorder {
    /// Copies `source` into `destination`, converting the layout. Creates the primitive each
    /// call; hot paths keep a `Reorder.Plan`.
    public static func run(from source: Tensor, to destination: Tensor) {
        Plan(from: source.desc, to: destination.desc).run(from: source, to: destination)
    }

    /// A reorder primitive for one pair of layouts, kept by layers between steps.
    public final class Plan {
        let source: MemoryDesc
        let destination: MemoryDesc
        let primitive: Primitive

        public init(from source: MemoryDesc, to destination: MemoryDesc) {
            precondition(source.dims == destination.dims, "reorder between shapes \(source.dims) and \(destination.dims)")
            self.source = source
            self.destination = destination
            var pd: dnnl_primitive_desc_t?
            var s = source.raw, d = destination.raw
            let engine = DNNL.shared.engine
            dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, nil), "reorder descriptor")
            primitive = Primitive(pd: pd!, what: "reorder")
        }

        public func run(from src: Tensor, to dst: Tensor) {
            precondition(src.desc == source && dst.desc == destination, "reorder plan used with other layouts")
            primitive.execute([(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
        }
    }
}

/// Brings a tensor into a required layout, reusing the reorder primitive between calls; the
/// converted tensor comes from the pool and goes back when its user lets it go (a weight's
/// copy in oneDNN's layout lives for one call, not beside the parameter for the whole run).
/// Returns the input itself when it already has the layout.
final class LayoutAdapter {
    private var plan: Reorder.Plan?
    /// The layout of the last tensor passed in.
    private(set) var lastSourceDesc: MemoryDesc?

    func adapt(_ x: Tensor, to desc: MemoryDesc) -> Tensor {
        lastSourceDesc = x.desc
        if x.desc == desc { return x }
        if plan == nil || plan!.source != x.desc || plan!.destination != desc {
            plan = Reorder.Plan(from: x.desc, to: desc)
        }
        let out = Tensor(pooled: desc)
        plan!.run(from: x, to: out)
        return out
    }
}

/// Primitive attributes with post-ops: operations oneDNN applies to a result before writing
/// it, saving a pass over memory. They also ask for a caller-provided scratchpad (see
/// `Primitive.execute`).
final class PostOps {
    let attr: dnnl_primitive_attr_t

    /// `relu`: max(result, 0) on the way out.
    init(relu: Bool) {
        var a: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&a), "primitive_attr_create")
        var ops: dnnl_post_ops_t?
        dnnlCheck(dnnl_post_ops_create(&ops), "post_ops_create")
        if relu { dnnlCheck(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "post_ops_append_eltwise") }
        dnnlCheck(dnnl_primitive_attr_set_post_ops(a, ops), "primitive_attr_set_post_ops")
        dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user), "primitive_attr_set_scratchpad_mode")
        dnnl_post_ops_destroy(ops)
        attr = a!
    }

    deinit { dnnl_primitive_attr_destroy(attr) }
}
