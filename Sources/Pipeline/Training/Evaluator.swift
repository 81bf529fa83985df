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
        /// Row-major [count, classes].
        public var logits: [Float]
        /// Mean cross-entropy per sample, and the fraction of samples classified right.
        public var loss: Double
        public var accuracy: Double
        /// With `features`: the embedding and attention maps of every sample, in order.
        public var features: ModelFeatures?
    }

    /// - Parameter features: also collect `ModelFeatures` (what `teacher-export --features` writes).
    public func run(features collect: Bool = false) -> Result {
        let data = assembler.dataset
        let k = model.numClasses
        var logits = [Float](repeating: 0, count: data.count * k)
        var lossSum = 0.0
        var input: Tensor?
        var features: ModelFeatures?
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let indices = Array(start..<min(start + batchSize, data.count))
            if input?.shape[0] != indices.count { input = Tensor(.plain([indices.count] + data.imageShape)) }
            assembler.fill(input!.floats, indices: indices)
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
                (dst.baseAddress! + start * k).update(from: out.floats, count: indices.count * k)
            }
        }
        let labels = data.labels.map { Int32($0) }
        return Result(logits: logits, loss: data.count > 0 ? lossSum / Double(data.count) : 0,
                      accuracy: LogitsFile.accuracy(logits: logits, labels: labels, classes: k), features: features)
    }
}
