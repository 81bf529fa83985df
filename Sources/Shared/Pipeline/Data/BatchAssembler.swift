import Engine
import Dispatch

/// Turns sample indices into a normalised float batch [n, C, H, W] (NCHW, row-major),
/// applying each sample's augmentation view on the way.
public struct BatchAssembler: Sendable {
    public let dataset: Dataset
    public let normalization: Normalization

    public init(dataset: Dataset, normalization: Normalization) {
        precondition(normalization.mean.count == dataset.channels, "normalisation has the wrong channel count")
        self.dataset = dataset
        self.normalization = normalization
    }

    /// Fills `output` (room for indices.count images) with the samples at `indices`.
    /// `views` holds one view per sample, or is empty for no augmentation.
    /// Parallel over samples; the result does not depend on the thread count.
    public func fill(_ output: UnsafeMutablePointer<Float>, indices: [Int], views: [Augmentation.View] = []) {
        precondition(views.isEmpty || views.count == indices.count)
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        let size = c * h * w
        let scale = normalization.std.map { 1 / (255 * $0) }
        let shift = zip(normalization.mean, normalization.std).map { -$0 / $1 }
        nonisolated(unsafe) let out = output
        dataset.images.withUnsafeBufferPointer { px in
            nonisolated(unsafe) let src = px.baseAddress!
            let work: @Sendable (Int) -> Void = { row in
                let image = src + indices[row] &* size
                let dst = out + row &* size
                let v = views.isEmpty ? Augmentation.View.identity : views[row]
                for ch in 0..<c {
                    let (a, b) = (scale[ch], shift[ch])
                    let plane = image + ch &* h &* w
                    let dplane = dst + ch &* h &* w
                    for y in 0..<h {
                        let sy = y &+ v.cropY &- v.padding
                        for x in 0..<w {
                            let xx = v.flip ? w &- 1 &- x : x
                            let sx = xx &+ v.cropX &- v.padding
                            let inside = sy >= 0 && sy < h && sx >= 0 && sx < w
                            let p: UInt8 = inside ? plane[sy &* w &+ sx] : 0
                            dplane[y &* w &+ x] = Float(p) * a + b
                        }
                    }
                }
            }
            if indices.count >= 64 {
                DispatchQueue.concurrentPerform(iterations: indices.count, execute: work)
            } else {
                for row in indices.indices { work(row) }
            }
        }
    }

    /// The labels of `indices` as Int32.
    public func labels(_ indices: [Int]) -> [Int32] { indices.map { Int32(dataset.labels[$0]) } }
}
