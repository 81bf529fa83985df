import Engine

/// One batch of training. This process's share of the batch (all of it when alone) runs in
/// `micro_batches` consecutive parts; each part is assembled, run forward (tapped when a term
/// needs the stages or the embedding), scored by the loss terms and run backward, and the
/// reducer sums the parts' gradients (and the processes'). Then one optimizer update.
final class TrainingStep {
    let model: Model
    let optimizer: Optimizer
    let terms: [LossTerm]
    let assembler: BatchAssembler
    let reducer: GradientReducer
    let microBatches: Int
    /// SyncBatchNorm's link to the other processes, told each part's share of the batch.
    let batchNormSync: ClusterBatchNormSync?
    /// Named in the error when the loss diverges.
    let paramsPath: String
    private let taps: Bool
    private var inputs: [Int: Tensor] = [:], logitGradients: [Int: Tensor] = [:]
    /// The frozen backbone's features of the training images, when the run keeps them.
    var frozenFeatures: FrozenFeatureCache?

    init(model: Model, optimizer: Optimizer, terms: [LossTerm], assembler: BatchAssembler, reducer: GradientReducer,
         microBatches: Int, batchNormSync: ClusterBatchNormSync?, paramsPath: String) {
        self.model = model; self.optimizer = optimizer; self.terms = terms; self.assembler = assembler
        self.reducer = reducer; self.microBatches = microBatches; self.batchNormSync = batchNormSync; self.paramsPath = paramsPath
        taps = terms.contains { $0.needsTaps }
    }

    /// Loss and accuracy over the samples this process trained on.
    struct Totals {
        var lossSum = 0.0, correct = 0, seen = 0

        static func += (a: inout Totals, b: Totals) { a.lossSum += b.lossSum; a.correct += b.correct; a.seen += b.seen }
    }

    /// Trains on the samples `indices` (batch `b` of `epoch`), whose teacher rows and input
    /// views are `teacher`.
    func run(_ indices: [Int], _ teacher: TeacherBatch, epoch: Int, batch b: Int) throws -> Totals {
        let cluster = reducer.cluster, batchSize = indices.count
        let mine = cluster.isDistributed ? cluster.share(of: batchSize) : 0..<batchSize
        let parts = Self.parts(of: mine, count: microBatches)
        reducer.begin(parts: parts.count)
        var totals = Totals()
        for part in parts {
            batchNormSync?.share = Double(part.count) / Double(batchSize)
            totals += try runPart(Array(indices[part]), teacher.part(part), epoch: epoch, batch: b)
            reducer.add(weight: Float(part.count) / Float(batchSize))
        }
        reducer.finish()
        optimizer.update()
        return totals
    }

    /// Forward, the terms and backward on one part; the gradient is left in the arena.
    private func runPart(_ indices: [Int], _ teacher: TeacherBatch, epoch: Int, batch b: Int) throws -> Totals {
        let n = indices.count, k = model.numClasses
        let gradient = logitGradients[n] ?? Tensor(.plain([n, k]))
        logitGradients[n] = gradient
        let labels = assembler.labels(indices)
        model.store.zeroGrads()
        let (logits, tapped) = try forward(indices, teacher)
        let student = StudentOutputs(logits: logits.floats, labels: labels, classes: k, taps: tapped, epoch: epoch)
        var gradients = StudentGradients(logits: gradient.floats, stages: [[Float]?](repeating: nil, count: tapped?.stages.count ?? 0),
                                         embedding: nil)
        var loss = 0.0
        for term in terms { loss += term.apply(student, teacher, &gradients) }
        guard loss.isFinite else {
            throw KDError(file: paramsPath, "training diverged at epoch \(epoch + 1), batch \(b + 1): loss is \(loss) (lower learning_rate?)")
        }
        var correct = 0
        for r in 0..<n where Predictions.argmax(logits.floats + r * k, classes: k) == Int(labels[r]) { correct += 1 }
        if let tapped {
            model.backward(gradient, through: tapped, stageGradients: gradients.stages, embeddingGradient: gradients.embedding)
        } else {
            model.backward(gradient)
        }
        return Totals(lossSum: loss * Double(n), correct: correct, seen: n)
    }

    /// The logits of `indices` in training mode (with the taps, when a term needs them): from
    /// the kept features of the frozen layers when there are, else from the images.
    private func forward(_ indices: [Int], _ teacher: TeacherBatch) throws -> (Tensor, TappedFeatures?) {
        let cache = teacher.views.isEmpty && !taps ? frozenFeatures : nil
        if let kept = cache?.features(indices) { return (model.forward(fromFrozen: kept, mode: .train), nil) }
        let n = indices.count
        let input = inputs[n] ?? Tensor(.plain([n] + assembler.inputShape))
        inputs[n] = input
        try assembler.fill(input.floats, indices: indices, views: teacher.views)
        if taps { return model.forwardTapped(input) }
        guard let cache else { return (model.forward(input, mode: .train), nil) }
        let features = model.frozenFeatures(input)
        cache.keep(features, for: indices)
        return (model.forward(fromFrozen: features, mode: .train), nil)
    }

    /// `range` cut into `count` consecutive parts as even as can be (the earlier ones larger),
    /// empty parts left out.
    static func parts(of range: Range<Int>, count: Int) -> [Range<Int>] {
        (0..<count).map { i in
            (range.lowerBound + (range.count * i + count - 1) / count)..<(range.lowerBound + (range.count * (i + 1) + count - 1) / count)
        }.filter { !$0.isEmpty }
    }
}
