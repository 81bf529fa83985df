internal import CDNNL

/// A float32 tensor in whatever layout oneDNN chose for it (nchw, nChw8c, oihw, ...), with its
/// own 64-byte aligned storage and a oneDNN memory object over it.
///
/// Element-wise Swift loops may run over `floats` across `physicalCount` elements: blocked
/// layouts pad channels with zeros, and element-wise maps that keep zero at zero stay valid.
/// Read values in logical (row-major) order with `toArray()`.
public final class Tensor {
    public let desc: MemoryDesc
    public let byteCount: Int
    public let data: UnsafeMutableRawPointer
    let memory: dnnl_memory_t
    /// False for views over someone else's memory.
    private let ownsStorage: Bool
    /// Storage borrowed from `StoragePool`, returned on release.
    private var pooled = false
    private let owner: AnyObject?

    public init(_ desc: MemoryDesc) {
        self.desc = desc
        self.byteCount = max(desc.byteCount, 4)
        self.data = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        self.ownsStorage = true
        self.owner = nil
        self.memory = Self.makeMemory(desc, data)
    }

    /// A tensor whose storage comes from the pool and goes back to it when released: for
    /// activations and gradients that live only until the next layer has read them.
    /// Padded (blocked) layouts are zeroed, since oneDNN reads the padding.
    public init(pooled desc: MemoryDesc, zeroed: Bool = true, roundedUp granule: Int = 1) {
        self.desc = desc
        self.byteCount = (max(desc.byteCount, 4) + granule - 1) / granule * granule
        self.data = StoragePool.shared.take(byteCount)
        if zeroed && byteCount != desc.dims.reduce(1, *) * 4 { data.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
        self.ownsStorage = false
        self.owner = nil
        self.memory = Self.makeMemory(desc, data)
        self.pooled = true
    }

    init(unowned pointer: UnsafeMutableRawPointer, _ desc: MemoryDesc, owner: AnyObject?) {
        self.desc = desc
        self.byteCount = max(desc.byteCount, 4)
        self.data = pointer
        self.ownsStorage = false
        self.owner = owner
        self.memory = Self.makeMemory(desc, pointer)
    }

    private static func makeMemory(_ desc: MemoryDesc, _ data: UnsafeMutableRawPointer) -> dnnl_memory_t {
        var md = desc.raw
        var mem: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&mem, &md, DNNL.shared.engine, data), "memory_create")
        return mem!
    }

    /// The same storage under another plain shape of equal size (e.g. flattening).
    public func reshaped(_ dims: [Int]) -> Tensor {
        Tensor(unowned: data, desc.reshaped(dims), owner: self)
    }

    /// A plain (row-major) tensor holding `values`.
    public convenience init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.init(MemoryDesc.plain(shape))
        values.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    deinit {
        dnnl_memory_destroy(memory)
        if ownsStorage { data.deallocate() }
        if pooled { StoragePool.shared.give(data, byteCount) }
    }

    /// Whether the storage came from the pool for this tensor alone (not a view of another's).
    var ownsPooledStorage: Bool { pooled }

    public var shape: [Int] { desc.dims }
    /// Elements in the logical shape.
    public var count: Int { shape.reduce(1, *) }
    /// Elements of storage, padding included.
    public var physicalCount: Int { byteCount / 4 }
    public var floats: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }

    public func zero() { data.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }

    /// The values in logical row-major order (reordered if the layout is blocked).
    public func toArray() -> [Float] {
        if desc.isPlain { return Array(UnsafeBufferPointer(start: floats, count: count)) }
        let plain = Tensor(.plain(shape))
        Reorder.run(from: self, to: plain)
        return plain.toArray()
    }

    /// Copies `values` (logical row-major order) into this tensor, whatever its layout.
    public func load(_ values: [Float]) {
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        if desc.isPlain {
            values.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        } else {
            Reorder.run(from: Tensor(shape: shape, values: values), to: self)
        }
    }
}

/// Returns `slot` if it already has `desc`, else a new zeroed tensor of `desc` (stored back):
/// how layers reuse their activation and gradient buffers from step to step.
@inline(__always)
func reuse(_ slot: inout Tensor?, _ desc: MemoryDesc) -> Tensor {
    if let t = slot, t.desc == desc { return t }
    let t = Tensor(desc)
    slot = t
    return t
}

extension Tensor {
    /// A tensor over memory it does not own (a parameter in the arena, or another tensor's
    /// storage seen under another shape). `owner` is kept alive as long as the view.
    public convenience init(wrapping pointer: UnsafeMutablePointer<Float>, _ desc: MemoryDesc, owner: AnyObject? = nil) {
        self.init(unowned: UnsafeMutableRawPointer(pointer), desc, owner: owner)
    }

    /// A view of memory that the primitives it is passed to only read (a layer's weights, which
    /// only the optimizer writes, through `ParameterStore.modifyParameters`).
    public convenience init(reading pointer: UnsafePointer<Float>, _ desc: MemoryDesc) {
        self.init(unowned: UnsafeMutableRawPointer(mutating: pointer), desc, owner: nil)
    }
}
