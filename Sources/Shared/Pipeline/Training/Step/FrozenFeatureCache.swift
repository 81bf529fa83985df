import Engine

/// The frozen prefix's output for each training image, kept after the first epoch computed it:
/// with a frozen backbone and no augmentation an image's features never change, so later
/// epochs run only the layers that train (the teacher, and the backbone, paid once).
/// Rows are training-set indices; each holds one image's features, plain row-major.
final class FrozenFeatureCache {
    private var values: [Float] = []
    private var filled: [Bool]
    /// One image's feature shape, known after the first batch.
    private(set) var featureShape: [Int]?
    let maximumBytes: Int

    init(rows: Int, maximumBytes: Int) {
        filled = [Bool](repeating: false, count: rows)
        self.maximumBytes = maximumBytes
    }

    /// Bytes the whole cache takes once full, or nil before the first batch.
    var bytes: Int? { featureShape.map { $0.reduce(1, *) * filled.count * 4 } }

    /// The features of `indices` as a plain [n, ...] tensor, when every one is kept.
    func features(_ indices: [Int]) -> Tensor? {
        guard let shape = featureShape, indices.allSatisfy({ filled[$0] }) else { return nil }
        let size = shape.reduce(1, *)
        let t = Tensor(.plain([indices.count] + shape))
        values.withUnsafeBufferPointer { v in
            for (r, i) in indices.enumerated() { (t.floats + r * size).update(from: v.baseAddress! + i * size, count: size) }
        }
        return t
    }

    /// Keeps the features `h` [n, ...] of `indices`; returns false (and keeps nothing, ever
    /// after) when the whole cache would pass `maximumBytes`.
    @discardableResult
    func keep(_ h: Tensor, for indices: [Int]) -> Bool {
        if featureShape == nil {
            featureShape = Array(h.shape.dropFirst())
            guard let bytes, bytes <= maximumBytes else { return false }
            values = [Float](repeating: 0, count: bytes / 4)
        }
        guard !values.isEmpty else { return false }
        let size = featureShape!.reduce(1, *), plain = h.toArray()
        values.withUnsafeMutableBufferPointer { v in
            plain.withUnsafeBufferPointer { h in
                for (r, i) in indices.enumerated() { (v.baseAddress! + i * size).update(from: h.baseAddress! + r * size, count: size) }
            }
        }
        for i in indices { filled[i] = true }
        return true
    }
}
