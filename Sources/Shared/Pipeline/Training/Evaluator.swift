import Engine
/// Runs a model in evaluation mode over a whole split in canonical order.
public struct Evaluator {
    public let model: Model
    public let assembler: BatchAssembler
    public var batchSize = 256

    public init(model: Model, data: Dataset, normalization: Normalization) {
        self.model = model
        self.assembler = BatchAssembler(dataset: data, normalization: normalization)
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

    /// - Parameters:
    ///   - features: also collect `ModelFeatures` (what `teacher-export --features` writes).
    ///   - views: run over these augmented views of the split instead of its plain images, in
    ///     their row order [N, V] (what `teacher-export --views` writes); the result then has a
    ///     row per view, and its loss and accuracy are over all views.
    ///   - rowRange: only these rows (of all the split's rows, views counted), in batches that
    ///     start where the whole split's would when it starts at a multiple of `batchSize`;
    ///     nil for all. The result then holds these rows alone.
    public func run(features collect: Bool = false, views: TeacherViews? = nil, rowRange: Range<Int>? = nil) -> Result {
        let data = assembler.dataset
        let k = model.numClasses
        precondition(views.map { $0.samples == data.count } ?? true, "views of another split")
        let perSample = views?.perSample ?? 1
        let range = rowRange ?? 0..<(data.count * perSample)
        let rows = range.upperBound
        var logits = [Float](repeating: 0, count: range.count * k)
        var lossSum = 0.0
        var input: Tensor?
        var features: ModelFeatures?
        for start in stride(from: range.lowerBound, to: rows, by: batchSize) {
            let batchRows = Array(start..<min(start + batchSize, rows))
            let indices = batchRows.map { $0 / perSample }
            if input?.shape[0] != indices.count { input = Tensor(.plain([indices.count] + data.imageShape)) }
            assembler.fill(input!.floats, indices: indices, views: views.map { v in batchRows.map { v.views[$0] } } ?? [])
            let out: Tensor
            if collect {
                let (logits, batch) = model.forwardWithFeatures(input!)
                out = logits
                if features == nil { features = batch } else { features!.append(batch) }
            } else {
                out = model.forward(input!, mode: .eval)
            }
            let labels = assembler.labels(indices)
            lossSum += CrossEntropy.compute(logits: out.floats, labels: labels, classes: k) * Double(indices.count)
            logits.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + (start - range.lowerBound) * k).update(from: out.floats, count: indices.count * k)
            }
        }
        return Result(logits: logits, loss: range.count > 0 ? lossSum / Double(range.count) : 0,
                      accuracy: rowAccuracy(logits, perSample: perSample, rows: range), features: features)
    }

    /// The share of `rows` (of all the split's rows, `perSample` per sample) whose logits,
    /// row-major for those rows, pick that row's label: what a logits file records.
    public func rowAccuracy(_ logits: [Float], perSample: Int, rows: Range<Int>? = nil) -> Double {
        let data = assembler.dataset
        let all = LogitsFile.rowLabels(data.labels.map { Int32($0) }, perSample: perSample)
        return Predictions.accuracy(logits: logits, labels: Array(all[rows ?? all.indices]), classes: model.numClasses)
    }
}
