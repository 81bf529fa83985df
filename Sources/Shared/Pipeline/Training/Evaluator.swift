import Engine
/// Runs a model in evaluation mode over a whole split in canonical order.
public struct Evaluator {
    public let model: Model
    public let assembler: BatchAssembler
    public var batchSize = 256

    /// `transform` renders replayed views and gives the centre crop of plain evaluation.
    public init(model: Model, data: Dataset, normalization: Normalization, transform: Augmentation = .none) {
        self.model = model
        self.assembler = BatchAssembler(dataset: data, normalization: normalization, transform: transform)
    }

    public struct Result: Sendable {
        /// Row-major [rows, classes]: a row per sample, or per view with `views`.
        public var logits: [Float]
        /// Mean cross-entropy per row, and the fraction of rows classified right.
        public var loss: Double
        public var accuracy: Double
        /// With `features`: the embedding and attention maps of every row, in order.
        public var features: ModelFeatures?
    }

    /// One evaluation batch, as `forEachBatch` hands it over.
    public struct Batch {
        /// Which of the split's rows (views counted) these are.
        public let rows: Range<Int>
        /// Row-major [rows.count, classes], valid during the call.
        public let logits: UnsafePointer<Float>
        public let labels: [Int32]
        /// With `features`: this batch's embedding and attention maps.
        public let features: ModelFeatures?
    }

    /// Runs the model over `rowRange` of the split's rows (views counted; nil for all), in
    /// batches that start where the whole split's would when it starts at a multiple of
    /// `batchSize`, and hands each batch to `body` as it is computed: memory that does not grow
    /// with the split.
    ///   - features: also compute `ModelFeatures` (what `teacher-export --features` writes).
    ///   - views: run over these augmented views of the split instead of its plain images, in
    ///     their row order [N, V] (what `teacher-export --views` writes).
    public func forEachBatch(features collect: Bool = false, views: TeacherViews? = nil, rowRange: Range<Int>? = nil,
                             _ body: (Batch) throws -> Void) throws {
        let data = assembler.dataset
        precondition(views.map { $0.samples == data.count } ?? true, "views of another split")
        let perSample = views?.perSample ?? 1
        let range = rowRange ?? 0..<(data.count * perSample)
        let starts = Array(stride(from: range.lowerBound, to: range.upperBound, by: batchSize))
        func samples(_ start: Int) -> [Int] { (start..<min(start + batchSize, range.upperBound)).map { $0 / perSample } }
        if let first = starts.first { assembler.prefetch(samples(first)) }
        var input: Tensor?
        for (b, start) in starts.enumerated() {
            let batchRows = start..<min(start + batchSize, range.upperBound)
            let indices = samples(start)
            if b + 1 < starts.count { assembler.prefetch(samples(starts[b + 1])) }
            if input?.shape[0] != indices.count { input = Tensor(.plain([indices.count] + assembler.inputShape)) }
            try assembler.fill(input!.floats, indices: indices, views: views.map { v in batchRows.map { v.views[$0] } } ?? [])
            let (out, batchFeatures) = collect ? model.forwardWithFeatures(input!) : (model.forward(input!, mode: .eval), nil)
            try body(Batch(rows: batchRows, logits: UnsafePointer(out.floats), labels: assembler.labels(indices), features: batchFeatures))
        }
    }

    /// The whole of `forEachBatch` collected: the logits (and features) of every row in
    /// `rowRange`, their mean cross-entropy and accuracy.
    public func run(features collect: Bool = false, views: TeacherViews? = nil, rowRange: Range<Int>? = nil) throws -> Result {
        let k = model.numClasses
        let range = rowRange ?? 0..<(assembler.dataset.count * (views?.perSample ?? 1))
        var logits = [Float](repeating: 0, count: range.count * k)
        var lossSum = 0.0
        var features: ModelFeatures?
        try forEachBatch(features: collect, views: views, rowRange: range) { batch in
            lossSum += CrossEntropy.compute(logits: batch.logits, labels: batch.labels, classes: k) * Double(batch.rows.count)
            logits.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + (batch.rows.lowerBound - range.lowerBound) * k).update(from: batch.logits, count: batch.rows.count * k)
            }
            if let f = batch.features { if features == nil { features = f } else { features!.append(f) } }
        }
        return Result(logits: logits, loss: range.count > 0 ? lossSum / Double(range.count) : 0,
                      accuracy: rowAccuracy(logits, perSample: views?.perSample ?? 1, rows: range), features: features)
    }

    /// The share of `rows` (of all the split's rows, `perSample` per sample) whose logits,
    /// row-major for those rows, pick that row's label: what a logits file records.
    public func rowAccuracy(_ logits: [Float], perSample: Int, rows: Range<Int>? = nil) -> Double {
        let all = LogitsFile.rowLabels(assembler.dataset.labels, perSample: perSample)
        return Predictions.accuracy(logits: logits, labels: Array(all[rows ?? all.indices]), classes: model.numClasses)
    }
}
