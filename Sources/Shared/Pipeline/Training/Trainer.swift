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
/// Data parallel under MPI (a `RunContext` cluster of several processes), as PyTorch's
/// DistributedDataParallel: every process draws the same shuffled batches (same seed) and takes
/// its contiguous share of each; after backward the gradients, each weighted by its share of
/// the batch, are summed in place over all processes (one MPI_Allreduce over the flat gradient
/// arena, `GradientReducer`), so every process applies the same update to the same weights. BatchNorm normalises
/// with each process's own share of the batch, and rank 0's running statistics are the ones
/// evaluated and saved (DDP's defaults: no SyncBatchNorm, buffers from rank 0), unless
/// `sync_batchnorm` shares the statistics over the processes (`Model.synchronizeBatchNorm`).
/// Rank 0 evaluates and writes checkpoints and metrics while the others wait.
///
/// A batch is a `TrainingStep`: the model forward, the run's `LossTerm`s against the teacher's
/// rows (`TeacherTargets`), backward, the reducer, the update. This file is the epoch loop.
public final class Trainer {
    public let setup: RunSetup
    public let model: Model
    public let optimizer: Optimizer
    let teacher: TeacherTargets
    let terms: [LossTerm]
    /// Rows of the train split this run trains on (all, or a stratified subset).
    public let trainIndices: [Int]
    let log: RunLog
    let fingerprint: String
    var batchesRun = 0

    public struct Outcome: Sendable {
        public var bestAccuracy: Double
        public var bestEpoch: Int
        public var lastAccuracy: Double
        public var epochs: Int
        public var secondsPerEpoch: Double
    }

    /// - Parameter teacher: what the loss terms read of the teacher; with views, the run must
    ///   augment (`StudentRun` checks it).
    public init(setup: RunSetup, log: RunLog, teacher: TeacherTargets) throws {
        let p = setup.params
        precondition(teacher.views == nil || (p.augmentation && teacher.views!.augmentation == setup.transform),
                     "replayed views need the student's augmentation")
        precondition(p.alpha == 0 || teacher.logits != nil, "alpha > 0 needs the teacher's train logits")
        precondition(!p.usesFeatures || teacher.features != nil, "feature methods need the teacher's train features")
        self.setup = setup
        self.log = log
        self.teacher = teacher
        model = try setup.makeModel()
        if let line = try setup.freezeParameters(of: model) { log.info(line) }
        optimizer = Optimizer(p.optimizer, store: model.store, learningRate: Float(p.learningRate), momentum: Float(p.momentum),
                              nesterov: p.nesterov, weightDecay: Float(p.weightDecay))
        terms = try LossTerms.make(setup, model: model, teacher: teacher)
        trainIndices = try setup.splits.subsetIndices(fraction: p.subsetPercent)
        let classes = setup.splits.train.numClasses
        guard trainIndices.count >= classes else {
            throw KDError(file: setup.paramsPath, "key 'subset_percent': \(p.subsetPercent) of the \(setup.splits.train.count) training images leaves \(trainIndices.count), fewer than the \(classes) classes; raise it")
        }
        fingerprint = try setup.splits.train.fingerprint()
    }

    /// With a frozen backbone, no augmentation and one process, the backbone's features of
    /// the training images are kept from the first epoch on (within `memory_budget_mb`).
    func frozenFeatureCache() -> FrozenFeatureCache? {
        let p = setup.params
        guard model.frozenPrefix > 0, !p.augmentation, !setup.context.cluster.isDistributed, !p.usesFeatures else { return nil }
        log.info("The first \(model.frozenPrefix) top-level layers are frozen and the inputs fixed: their outputs are kept in memory from the first epoch on (up to \(p.memoryBudget >> 20) MiB), so later epochs run only the layers that train")
        return FrozenFeatureCache(rows: setup.splits.train.count, maximumBytes: p.memoryBudget)
    }

    /// Trains to `num_epochs`, resuming from `restore` if given. Returns the best and last
    /// validation accuracy.
    public func train(restore: RestorePoint?) throws -> Outcome {
        let p = setup.params, cluster = setup.context.cluster
        var progress = try startOrResume(restore)
        let syncBN = p.syncBatchnorm && cluster.isDistributed ? ClusterBatchNormSync(cluster) : nil
        let step = TrainingStep(model: model, optimizer: optimizer, terms: terms,
                                assembler: BatchAssembler(dataset: setup.splits.train, normalization: setup.normalization, transform: setup.transform),
                                reducer: GradientReducer(store: model.store, cluster: cluster), microBatches: p.microBatches,
                                batchNormSync: syncBN, paramsPath: setup.paramsPath)
        logStart(batchNormSync: syncBN != nil)
        step.frozenFeatures = frozenFeatureCache()
        model.synchronizeBatchNorm(syncBN)
        defer { model.synchronizeBatchNorm(nil) }
        for epoch in progress.state.epoch..<p.numEpochs {
            let lr = p.schedule.rate(base: p.learningRate, epoch: epoch)
            optimizer.learningRate = Float(lr)
            let start = Date()
            var totals = try trainEpoch(epoch, step: step, started: start)
            let trainSeconds = Date().timeIntervalSince(start)
            if cluster.isDistributed {
                let sums = cluster.allreduceSum([totals.lossSum, Double(totals.correct), Double(totals.seen)])
                totals = TrainingStep.Totals(lossSum: sums[0], correct: Int(sums[1]), seen: Int(sums[2]))
                // Rank 0 evaluates and writes; the others wait for it before the next epoch.
                guard cluster.isRoot else {
                    progress.state.epoch = epoch + 1
                    cluster.barrier()
                    continue
                }
            }
            defer { cluster.barrier() }
            try endEpoch(epoch, learningRate: lr, totals: totals, started: start, trainSeconds: trainSeconds, progress: &progress)
        }
        return progress.outcome
    }
}
