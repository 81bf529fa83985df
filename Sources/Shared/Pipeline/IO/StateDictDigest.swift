/// SHA-256 over a checkpoint's state_dict, as `state_dict_sha256` stores it: for each tensor in
/// name order (byte order of the UTF-8 names), the name's bytes, a NUL byte, then the values as
/// stored, little-endian: float32, or int64 for counters (`num_batches_tracked`).
/// scripts/import_torch_teacher.py computes the same with hashlib and numpy.
struct StateDictDigest {
    /// A tensor's values as the file stores them.
    enum Tensor {
        case floats([Float])
        case counts([Int64])

        /// The values as the engine's parameter store holds them.
        var floats: [Float] {
            switch self {
            case .floats(let v): return v
            case .counts(let v): return v.map(Float.init)
            }
        }
    }

    private var hash = SHA256()

    init() {}

    /// The digest of `tensors`, taken in name order.
    init(_ tensors: [String: Tensor]) {
        for name in tensors.keys.sorted(by: Self.inOrder) {
            switch tensors[name]! {
            case .floats(let v): add(name, v)
            case .counts(let v): add(name, v)
            }
        }
    }

    /// The order tensors are taken in: by the bytes of their UTF-8 names.
    static func inOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Adds one tensor; call in name order.
    mutating func add<T: BitwiseCopyable>(_ name: String, _ values: [T]) {
        hash.update(Array(name.utf8) + [0])
        values.withUnsafeBytes { hash.update($0) }  // little-endian on every machine this runs on
    }

    var hex: String {
        var h = hash
        return h.finalizeHex()
    }
}
