/// All parameters of a model in one flat arena, their gradients in another, and the
/// non-trained buffers (BatchNorm running statistics) in a third: zero-grad, the optimizer
/// step and checkpoint writes are single loops.
///
/// Layers register tensors while the model is built (names are PyTorch `state_dict` keys),
/// then `finalize()` allocates the arenas; layers address them by `Slot`.
public final class ParameterStore {
    public enum Kind: Sendable { case parameter, buffer, counter }

    /// One registered tensor.
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let kind: Kind
        /// Offset in the arena of its kind.
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public typealias Slot = Int

    public private(set) var entries: [Entry] = []
    private var initial: [[Float]] = []
    public private(set) var parameterCount = 0
    public private(set) var bufferCount = 0
    public private(set) var isFinal = false
    /// Changes whenever values or buffers change, so layers can cache what they derive from
    /// them (folded evaluation weights). The store bumps it itself: values are written only
    /// through `modify`, `modifyParameters` and `set`, and read through `value`.
    public private(set) var version = 0

    private var values: UnsafeMutablePointer<Float>!
    public private(set) var grads: UnsafeMutablePointer<Float>!
    private var buffers: UnsafeMutablePointer<Float>!

    public init() {}

    deinit {
        values?.deallocate(); grads?.deallocate(); buffers?.deallocate()
    }

    /// Registers a tensor with its initial values; returns its slot.
    @discardableResult
    public func add(_ name: String, shape: [Int], kind: Kind = .parameter, initial values: [Float]) -> Slot {
        precondition(!isFinal, "cannot add \(name) after finalize()")
        precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) initial values for shape \(shape)")
        precondition(!entries.contains { $0.name == name }, "duplicate parameter name \(name)")
        let offset: Int
        switch kind {
        case .parameter: offset = parameterCount; parameterCount += values.count
        case .buffer, .counter: offset = bufferCount; bufferCount += values.count
        }
        entries.append(Entry(name: name, shape: shape, kind: kind, offset: offset))
        initial.append(values)
        return entries.count - 1
    }

    /// Allocates the arenas and copies the initial values in. Gradients start at zero.
    public func finalize() {
        precondition(!isFinal)
        values = .allocate(capacity: max(parameterCount, 1))
        grads = .allocate(capacity: max(parameterCount, 1))
        buffers = .allocate(capacity: max(bufferCount, 1))
        grads.initialize(repeating: 0, count: max(parameterCount, 1))
        for (entry, vals) in zip(entries, initial) {
            let base = entry.kind == .parameter ? values! : buffers!
            vals.withUnsafeBufferPointer { (base + entry.offset).update(from: $0.baseAddress!, count: vals.count) }
        }
        initial = []
        isFinal = true
    }

    /// A tensor's values (parameter or buffer), to read.
    public func value(_ slot: Slot) -> UnsafePointer<Float> { UnsafePointer(storage(slot)) }

    /// Lets `body` write a tensor's values (a running statistic, a counter).
    public func modify<R>(_ slot: Slot, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        defer { version &+= 1 }
        return try body(storage(slot))
    }

    /// Lets `body` update every parameter at once (values and gradients, flat, `parameterCount`
    /// long): the optimizer step.
    public func modifyParameters<R>(_ body: (_ values: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>) throws -> R) rethrows -> R {
        defer { version &+= 1 }
        return try body(values, grads)
    }

    private func storage(_ slot: Slot) -> UnsafeMutablePointer<Float> {
        let e = entries[slot]
        return (e.kind == .parameter ? values : buffers) + e.offset
    }

    /// Pointer to a parameter's gradient.
    public func grad(_ slot: Slot) -> UnsafeMutablePointer<Float> {
        precondition(entries[slot].kind == .parameter)
        return grads + entries[slot].offset
    }

    public func zeroGrads() { grads.update(repeating: 0, count: parameterCount) }

    /// The values of the tensor named `name`, row-major.
    public func array(_ name: String) -> [Float]? {
        guard let slot = entries.firstIndex(where: { $0.name == name }) else { return nil }
        return Array(UnsafeBufferPointer(start: value(slot), count: entries[slot].count))
    }

    /// The gradient of parameter `name`.
    public func gradArray(_ name: String) -> [Float]? {
        guard let slot = entries.firstIndex(where: { $0.name == name && $0.kind == .parameter }) else { return nil }
        return Array(UnsafeBufferPointer(start: grad(slot), count: entries[slot].count))
    }

    /// Overwrites the tensor named `name` (e.g. from a checkpoint or a fixture).
    public func set(_ name: String, _ newValues: [Float]) throws {
        guard let slot = entries.firstIndex(where: { $0.name == name }) else {
            throw KDError("no parameter named '\(name)'")
        }
        guard newValues.count == entries[slot].count else {
            throw KDError("'\(name)' has shape \(entries[slot].shape), not \(newValues.count) values")
        }
        modify(slot) { p in newValues.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: newValues.count) } }
    }

    /// Number of parameter scalars (what PyTorch's `sum(p.numel() for p in parameters())` counts).
    public var trainableScalarCount: Int { parameterCount }

    // MARK: Frozen parameters

    /// Parameters that take no gradient work and no optimizer step (`requires_grad=False`):
    /// fine-tuning's frozen backbone. Their gradients stay zero.
    public private(set) var frozen: Set<Slot> = []

    public func isFrozen(_ slot: Slot) -> Bool { frozen.contains(slot) }

    /// Freezes the parameters in `slots` (buffers and counters are never trained anyway), and
    /// thaws every other parameter.
    public func setFrozen(_ slots: Set<Slot>) {
        frozen = slots.filter { entries[$0].kind == .parameter }
    }

    /// The arena ranges the optimizer updates: every parameter not frozen, adjacent ones merged.
    public var trainableRanges: [Range<Int>] {
        var ranges: [Range<Int>] = []
        for (slot, e) in entries.enumerated() where e.kind == .parameter && !frozen.contains(slot) {
            let r = e.offset..<(e.offset + e.count)
            if let last = ranges.last, last.upperBound == r.lowerBound { ranges[ranges.count - 1] = last.lowerBound..<r.upperBound } else { ranges.append(r) }
        }
        return ranges
    }

    /// Scalars the optimizer updates (PyTorch's count over parameters with `requires_grad`).
    public var unfrozenScalarCount: Int { trainableRanges.reduce(0) { $0 + $1.count } }
}

/// Adds `count` floats of `source` into `destination` (gradient accumulation).
@inline(__always)
func accumulate(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i &+ 8 <= count {
        let a = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self)
        let b = UnsafeRawPointer(destination + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(destination + i).storeBytes(of: a + b, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count { destination[i] += source[i]; i &+= 1 }
}
