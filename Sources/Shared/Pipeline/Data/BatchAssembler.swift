import Engine
import Dispatch

/// Turns sample indices into a normalised float batch [n, C, H, W] (NCHW, row-major),
/// applying each sample's augmentation view on the way.
///
/// A streamed dataset's images are read from its file for each batch; `prefetch` starts reading
/// the next batch's on a background thread while this one trains.
public struct BatchAssembler: Sendable {
    public let dataset: Dataset
    public let normalization: Normalization
    private let prefetcher: ImagePrefetcher?

    public init(dataset: Dataset, normalization: Normalization) {
        precondition(normalization.mean.count == dataset.channels, "normalisation has the wrong channel count")
        self.dataset = dataset
        self.normalization = normalization
        prefetcher = dataset.isStreamed ? ImagePrefetcher(dataset) : nil
    }

    /// Starts reading the images of `indices` in the background, for a `fill` of them (or of a
    /// consecutive part of them) to come. Nothing for data in memory.
    public func prefetch(_ indices: [Int]) {
        prefetcher?.start(indices)
    }

    /// Fills `output` (room for indices.count images) with the samples at `indices`.
    /// `views` holds one view per sample, or is empty for no augmentation.
    /// Parallel over samples; the result does not depend on the thread count.
    public func fill(_ output: UnsafeMutablePointer<Float>, indices: [Int], views: [Augmentation.View] = []) throws {
        precondition(views.isEmpty || views.count == indices.count)
        if let prefetcher {
            try prefetcher.take(indices) { staged in normalize(staged, rows: Array(0..<indices.count), into: output, views: views) }
        } else if case .memory(let bytes) = dataset.pixels {
            bytes.withUnsafeBufferPointer { normalize($0.baseAddress!, rows: indices.map(dataset.storedRow), into: output, views: views) }
        }
    }

    /// Normalises images `rows` of `source` (whole images, one after another) into `output`.
    private func normalize(_ source: UnsafePointer<UInt8>, rows: [Int], into output: UnsafeMutablePointer<Float>,
                           views: [Augmentation.View]) {
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        let size = c * h * w
        let scale = normalization.std.map { 1 / (255 * $0) }
        let shift = zip(normalization.mean, normalization.std).map { -$0 / $1 }
        nonisolated(unsafe) let out = output
        nonisolated(unsafe) let src = source
        let work: @Sendable (Int) -> Void = { row in
            let image = src + rows[row] &* size
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
        if rows.count >= 64 {
            DispatchQueue.concurrentPerform(iterations: rows.count, execute: work)
        } else {
            for row in rows.indices { work(row) }
        }
    }

    /// The labels of `indices`.
    public func labels(_ indices: [Int]) -> [Int32] { indices.map { dataset.labels[$0] } }
}
