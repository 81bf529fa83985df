import Engine
import Dispatch

/// Turns sample indices into a normalised float batch [n, C, S, S] (NCHW, row-major),
/// rendering each sample's augmentation view on the way (`Augmentation.render`), or without
/// views the centre crop of side S (`transform`'s crop size, else the image's).
///
/// A streamed dataset's images are read from its file for each batch; `prefetch` starts reading
/// the next batch's on a background thread while this one trains.
public struct BatchAssembler: Sendable {
    public let dataset: Dataset
    public let normalization: Normalization
    public let transform: Augmentation
    private let prefetcher: ImagePrefetcher?

    public init(dataset: Dataset, normalization: Normalization, transform: Augmentation = .none) {
        precondition(normalization.mean.count == dataset.channels, "normalisation has the wrong channel count")
        self.dataset = dataset
        self.normalization = normalization
        self.transform = transform
        prefetcher = dataset.isStreamed ? ImagePrefetcher(dataset) : nil
    }

    /// [C, S, S]: one sample as the network takes it.
    public var inputShape: [Int] {
        let (h, w) = transform.outputShape(dataset.height, dataset.width)
        return [dataset.channels, h, w]
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
        let inSize = c * h * w, outSize = inputShape.reduce(1, *)
        let scale = normalization.std.map { 1 / (255 * $0) }
        let shift = zip(normalization.mean, normalization.std).map { -$0 / $1 }
        let transform = self.transform, center = transform.centerView(h)
        nonisolated(unsafe) let out = output
        nonisolated(unsafe) let src = source
        let work: @Sendable (Int) -> Void = { row in
            // A drawn view pads as the transform says; the centre crop pads with zeros (CenterCrop).
            let (view, mode) = views.isEmpty ? (center, Augmentation.PaddingMode.constant) : (views[row], transform.paddingMode)
            transform.render(src + rows[row] &* inSize, channels: c, height: h, width: w, view: view, mode: mode, scale: scale, shift: shift,
                             into: out + row &* outSize)
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
