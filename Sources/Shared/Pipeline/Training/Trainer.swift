import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The epoch loop shared by teacher-train and student-distill: shuffled batches, (optional)
/// augmentation, the KD or CE loss, the optimizer and its schedule; evaluation on `val` after
/// every epoch, counted per sample; `last.h5` every epoch and `best.h5` on improvement, with
/// their metrics files, all written atomically.
///
/// Everything random derives from the seed and the epoch number, and checkpoints hold the
/// optimizer, dropout and best-metric state, so a run resumed from `last.h5` ends exactly like
/// one never interrupted.
///
/// Data parallel under MPI (`Cluster.active` of several processes), as PyTorch's
/// DistributedDataParallel: every process draws the same shuffled batches (same seed) and takes
/// its contiguous share of each; after backward the gradients, each weighted by its share of
/// the batch, are summed in place over all processes (one MPI_Allreduce over the flat gradient
/// arena), so every process applies the same update to the same weights. BatchNorm normalises
/// with each process's own share of the batch, and rank 0's running statistics are the ones
/// evaluated and saved (DDP's defaults: no SyncBatchNorm, buffers from rank 0), unless
/// `sync_batchnorm` shares the statistics over the processes (`BatchNorm.synchronizer`). Rank 0
/// evaluates and writes checkpoints and metrics while the others wait.
public final class Trainer {
    public let setup: RunSetup
    public let model: Model
    public let optimizer: Optimizer
    public let loss: DistillationLoss
    /// Teacher logits of the whole train split, row-major [train.count * V, classes] (V views
    /// per sample, 1 without); nil for alpha 0.
    let teacher: [Float]?
    /// The augmented views the teacher's train rows belong to, which this run replays; nil when
    /// the rows are of the plain images.
    let teacherViews: TeacherViews?
    /// Teacher logits of the validation split, when given: each epoch's metrics then compare.
    let teacherVal: [Float]?
    /// Attention transfer against the teacher's exported maps (`at_weight` > 0).
    let attention: AttentionTerm?
    /// Relational KD against the teacher's exported embeddings (an `rkd_*` weight > 0).
    let relational: RelationalTerm?
    /// Rows of the train split this run trains on (all, or a stratified subset).
    public let trainIndices: [Int]
    let log: RunLog
    let fingerprint: String
    private var batchesRun = 0

    /// Called after every training batch with the number of batches this trainer has run: a
    /// seam for tests (the stages' command line installs one that SIGKILLs the process, see
    /// `KDCommandLine.CrashHook`). Set it before training starts.
    nonisolated(unsafe) public static var afterBatch: ((_ batchesRun: Int) -> Void)?

    public struct Outcome: Sendable {
        public var bestAccuracy: Double
        public var bestEpoch: Int
        public var lastAccuracy: Double
        public var epochs: Int
        public var secondsPerEpoch: Double
    }

    /// - Parameter teacherViews: the views of a multi-view export, whose rows the other teacher
    ///   arrays then hold [N * V, ...]; the run must augment (`StudentRun` checks it).
    public init(setup: RunSetup, log: RunLog, teacherTrainLogits: [Float]?, teacherValLogits: [Float]? = nil,
                teacherTrainFeatures: ModelFeatures? = nil, teacherViews: TeacherViews? = nil) throws {
        let p = setup.params
        precondition(teacherViews == nil || (p.augmentation && teacherViews!.augmentation == .standard(for: setup.splits.train)),
                     "replayed views need the student's augmentation")
        self.teacherViews = teacherViews
        self.setup = setup
        self.log = log
        model = try setup.makeModel()
        optimizer = Optimizer(p.optimizer, store: model.store, learningRate: Float(p.learningRate), momentum: Float(p.momentum),
                              nesterov: p.nesterov, weightDecay: Float(p.weightDecay))
        loss = p.distillationLoss
        teacher = p.alpha > 0 ? teacherTrainLogits : nil
        teacherVal = teacherValLogits
        precondition(!p.usesFeatures || teacherTrainFeatures != nil, "feature methods need the teacher's train features")
        if p.atWeight > 0, let features = teacherTrainFeatures {
            // The student's stage sizes, from one evaluation-mode pass (which changes no state).
            let probe = Tensor(.plain([1] + setup.splits.train.imageShape))
            let stages = model.forwardWithFeatures(probe).features.attention.map { ($0.height, $0.width) }
            attention = try AttentionTerm(studentStages: stages, teacher: features, weight: p.atWeight, file: setup.paramsPath)
        } else {
            attention = nil
        }
        relational = p.usesRKD ? teacherTrainFeatures.map {
            RelationalTerm(teacher: $0, distanceWeight: Float(p.rkdDistanceWeight), angleWeight: Float(p.rkdAngleWeight))
        } : nil
        precondition(p.alpha == 0 || teacher != nil, "alpha > 0 needs the teacher's train logits")
        trainIndices = try setup.splits.subsetIndices(fraction: p.subsetPercent)
        let classes = setup.splits.train.numClasses
        guard trainIndices.count >= classes else {
            throw PipelineError(file: setup.paramsPath, "key 'subset_percent': \(p.subsetPercent) of the \(setup.splits.train.count) training images leaves \(trainIndices.count), fewer than the \(classes) classes; raise it")
        }
        fingerprint = setup.splits.train.fingerprint()
    }

    /// Trains to `num_epochs`, resuming from `restore` if given. Returns the best and last
    /// validation accuracy.
    public func train(restore: RestorePoint?) throws -> Outcome {
        let p = setup.params
        var state = Checkpoint.TrainingState(epoch: 0, bestAccuracy: -1, bestEpoch: -1)
        if let restore {
            let path = setup.directory.path(restore.file)
            state = try Checkpoint.load(path, into: model, optimizer: optimizer)
            log.info("Resumed from \(path) after epoch \(state.epoch) (best validation accuracy \(percent(state.bestAccuracy)) at epoch \(state.bestEpoch + 1))")
        }
        let data = setup.splits.train
        let assembler = BatchAssembler(dataset: data, normalization: setup.normalization)
        let sampler = BatchSampler(count: trainIndices.count, batchSize: p.batchSize, shuffle: true, seed: p.seed)
        let augmentation = p.augmentation ? Augmentation.standard(for: data) : .none
        let k = model.numClasses
        let schedule = p.schedule
        var inputs: [Int: Tensor] = [:], gradients: [Int: Tensor] = [:]
        var teacherRows = [Float]()
        var accumulated = [Float]()  // the summed parts' gradients, with micro-batches or MPI
        var lastAccuracy = 0.0
        var epochSeconds: [Double] = []
        // Per-epoch validation history (history.json), kept consistent with the checkpoint on resume.
        var history = TrainingHistory(epochs: Array(((try setup.directory.read(TrainingHistory.self, from: .history))?.epochs ?? []).prefix(state.epoch)))
        log.info("Training \(p.modelVersion) (\(model.store.trainableScalarCount) parameters) on \(trainIndices.count) \(data.name) images, validating on \(setup.splits.val.count); \(p.numEpochs) epochs of \(sampler.batchesPerEpoch) batches" + (p.distillationDescription.map { "; " + $0 } ?? ""))
        let cluster = Cluster.active
        let syncBN = p.syncBatchnorm && cluster.isDistributed ? ClusterBatchNormSync(cluster) : nil
        if cluster.isDistributed {
            log.info("Data parallel over \(cluster.size) processes of \(ComputeThreads.count) thread(s) each: every batch of \(p.batchSize) is shared out, gradients summed with MPI_Allreduce; BatchNorm "
                     + (syncBN != nil ? "over the whole batch (sync_batchnorm)" : "over each process's share (as DDP; sync_batchnorm: true for the whole batch)"))
        }
        BatchNorm.synchronizer = syncBN
        defer { BatchNorm.synchronizer = nil }

        if let attention { log.info("Attention transfer (weight \(SweepSpec.Point.number(p.atWeight))): " + attention.description) }

        for epoch in state.epoch..<p.numEpochs {
            let lr = schedule.rate(base: p.learningRate, epoch: epoch)
            optimizer.learningRate = Float(lr)
            let softScale = p.softScale(epoch: epoch)
            let batches = sampler.batches(epoch: epoch)
            var lossSum = 0.0, correct = 0, seen = 0
            let start = Date()
            for (b, positions) in batches.enumerated() {
                let batchSize = positions.count
                let indices = positions.map { trainIndices[$0] }
                // The rows of the teacher's arrays this batch reads, and the views of its inputs:
                // a multi-view export's stored views, else fresh ones (or none).
                let rows: [Int], views: [Augmentation.View]
                if let teacherViews {
                    (rows, views) = teacherViews.replay(indices, epoch: epoch, studentSeed: p.seed)
                } else {
                    var viewRNG = SeededRNG(seed: p.seed, stream: 0xA06, UInt64(epoch), UInt64(b))
                    (rows, views) = (indices, augmentation.isIdentity ? [] : indices.map { _ in augmentation.drawView(&viewRNG) })
                }
                if syncBN != nil && batchSize < cluster.size {
                    // A process without a sample cannot take part in the shared statistics: every
                    // process leaves this (last, short) batch out alike.
                    log.info("sync_batchnorm: batch \(b + 1) of epoch \(epoch + 1) has \(batchSize) samples for \(cluster.size) processes; left out")
                    continue
                }
                // This process's share of the batch (all of it when alone; drawn whole above, so
                // that every sample gets the view it would get in a single process), in
                // `micro_batches` consecutive parts. With more than one part in all, each part's
                // gradient is weighted by its share of the batch and the parts are summed, here
                // and then over the processes: the mean over the whole batch.
                let mine = cluster.isDistributed ? cluster.share(of: batchSize) : 0..<batchSize
                let parts = Self.parts(of: mine, count: p.microBatches)
                let summed = parts.count > 1 || cluster.isDistributed
                let arena = model.store.grads!, parameters = model.store.parameterCount
                if summed {
                    if accumulated.count != parameters { accumulated = [Float](repeating: 0, count: parameters) }
                    accumulated.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                }
                for part in parts {
                    syncBN?.share = Double(part.count) / Double(batchSize)
                    let partIndices = Array(indices[part]), partRows = Array(rows[part])
                    let partViews = views.isEmpty ? [] : Array(views[part])
                    let n = partIndices.count
                    let input = inputs[n] ?? Tensor(.plain([n] + data.imageShape))
                    inputs[n] = input
                    let gradient = gradients[n] ?? Tensor(.plain([n, k]))
                    gradients[n] = gradient
                    assembler.fill(input.floats, indices: partIndices, views: partViews)
                    let labels = assembler.labels(partIndices)
                    if let teacher {
                        teacherRows.removeAll(keepingCapacity: true)
                        for i in partRows { teacherRows.append(contentsOf: teacher[(i * k)..<((i + 1) * k)]) }
                    }
                    model.store.zeroGrads()
                    let logits: Tensor, tapped: TappedFeatures?
                    if attention != nil || relational != nil { (logits, tapped) = model.forwardTapped(input) } else { (logits, tapped) = (model.forward(input, mode: .train), nil) }
                    var value = teacherRows.withUnsafeBufferPointer { t in
                        loss.compute(student: logits.floats, teacher: teacher == nil ? nil : t.baseAddress, labels: labels,
                                     classes: k, gradient: gradient.floats, softScale: softScale)
                    }
                    let transfer = tapped.flatMap { f in attention.map { $0.compute(f, rows: partRows) } }
                    let relation = tapped.flatMap { f in relational.map { $0.compute(f, rows: partRows) } }
                    if let transfer { value.loss += transfer.loss }
                    if let relation { value.loss += relation.loss }
                    guard value.loss.isFinite else {
                        throw PipelineError(file: setup.paramsPath, "training diverged at epoch \(epoch + 1), batch \(b + 1): loss is \(value.loss) (lower learning_rate?)")
                    }
                    for r in 0..<n where LogitsFile.argmax(logits.floats + r * k, classes: k) == Int(labels[r]) { correct += 1 }
                    if let f = tapped {
                        model.backward(gradient, stageGradients: transfer?.stageGradients ?? [[Float]?](repeating: nil, count: f.stages.count),
                                       embeddingGradient: relation?.embeddingGradient)
                    } else {
                        model.backward(gradient)
                    }
                    if summed {
                        let weight = Float(n) / Float(batchSize)
                        accumulated.withUnsafeMutableBufferPointer { acc in
                            for i in 0..<parameters { acc[i] += arena[i] * weight }
                        }
                    }
                    lossSum += value.loss * Double(n)
                    seen += n
                }
                if summed {
                    accumulated.withUnsafeBufferPointer { arena.update(from: $0.baseAddress!, count: parameters) }
                    cluster.allreduceSum(arena, count: parameters)
                }
                optimizer.update()
                batchesRun += 1
                Self.afterBatch?(batchesRun)
                guard seen > 0 else { continue }
                let elapsed = Date().timeIntervalSince(start)
                log.elapsedPerBatch = elapsed / Double(b + 1)
                log.progress(epoch: epoch + 1, epochs: p.numEpochs, batch: b + 1, batches: batches.count, loss: lossSum / Double(seen),
                             accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / max(elapsed, 1e-9),
                             every: p.saveSummarySteps)
            }
            let trainSeconds = Date().timeIntervalSince(start)
            if cluster.isDistributed {
                let totals = cluster.allreduceSum([lossSum, Double(correct), Double(seen)])
                (lossSum, correct, seen) = (totals[0], Int(totals[1]), Int(totals[2]))
                // Rank 0 evaluates and writes; the others wait for it before the next epoch.
                guard cluster.isRoot else {
                    state.epoch = epoch + 1
                    cluster.barrier()
                    continue
                }
            }
            defer { cluster.barrier() }
            let trainLoss = lossSum / Double(max(seen, 1)), trainAccuracy = Double(correct) / Double(max(seen, 1))
            let val = Evaluator(model: model, data: setup.splits.val, normalization: setup.normalization).run()
            let comparison = teacherVal.map { TeacherComparison(student: val.logits, teacher: $0, classes: k) }
            epochSeconds.append(Date().timeIntervalSince(start))
            lastAccuracy = val.accuracy
            state.epoch = epoch + 1
            let improved = val.accuracy > state.bestAccuracy
            if improved { state.bestAccuracy = val.accuracy; state.bestEpoch = epoch }
            history.epochs.append(.init(epoch: epoch + 1, valAccuracy: val.accuracy, valLoss: val.loss, trainAccuracy: trainAccuracy,
                                        trainLoss: trainLoss, learningRate: Double(lr), seconds: epochSeconds.last!))
            try setup.directory.endEpoch(model: model, optimizer: optimizer, state: state, datasetFingerprint: fingerprint,
                                         metrics: EpochMetrics(accuracy: val.accuracy, loss: val.loss, epoch: epoch + 1,
                                                               trainAccuracy: trainAccuracy, trainLoss: trainLoss,
                                                               teacherAgreement: comparison?.agreement, klToTeacher: comparison?.klToTeacher),
                                         improved: improved, history: history)
            log.info(String(format: "epoch %d/%d  lr %.3g  train loss %.4f acc %@  val loss %.4f acc %@%@  %.1f s (%.0f img/s)",
                            epoch + 1, p.numEpochs, lr, trainLoss, percent(trainAccuracy),
                            val.loss, percent(val.accuracy), improved ? " (best)" : "", epochSeconds.last!,
                            Double(seen) / max(trainSeconds, 1e-9)))
        }
        return Outcome(bestAccuracy: state.bestAccuracy, bestEpoch: state.bestEpoch, lastAccuracy: lastAccuracy,
                       epochs: state.epoch, secondsPerEpoch: epochSeconds.isEmpty ? 0 : epochSeconds.reduce(0, +) / Double(epochSeconds.count))
    }
}

extension Trainer {
    /// `range` cut into `count` consecutive parts as even as can be (the earlier ones larger),
    /// empty parts left out.
    static func parts(of range: Range<Int>, count: Int) -> [Range<Int>] {
        (0..<count).map { i in
            (range.lowerBound + (range.count * i + count - 1) / count)..<(range.lowerBound + (range.count * (i + 1) + count - 1) / count)
        }.filter { !$0.isEmpty }
    }
}

/// "93.45%".
public func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

