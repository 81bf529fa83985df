import Engine
import Foundation

extension Trainer {
    /// Where the run stands between epochs: the checkpoint's state and the history that goes
    /// with it.
    struct Progress {
        var state: Checkpoint.TrainingState
        var history: TrainingHistory
        var epochSeconds: [Double] = []
        var lastAccuracy = 0.0

        var outcome: Outcome {
            Outcome(bestAccuracy: state.bestAccuracy, bestEpoch: state.bestEpoch, lastAccuracy: lastAccuracy, epochs: state.epoch,
                    secondsPerEpoch: epochSeconds.isEmpty ? 0 : epochSeconds.reduce(0, +) / Double(epochSeconds.count))
        }
    }

    /// A fresh start, or the state of `restore` with the history of the epochs it covers.
    func startOrResume(_ restore: RestorePoint?) throws -> Progress {
        var state = Checkpoint.TrainingState(epoch: 0, bestAccuracy: -1, bestEpoch: -1)
        if let restore {
            let path = setup.directory.path(restore.file)
            state = try Checkpoint.load(path, into: model, optimizer: optimizer)
            log.info("Resumed from \(path) after epoch \(state.epoch) (best validation accuracy \(percent(state.bestAccuracy)) at epoch \(state.bestEpoch + 1))")
        } else if let line = try setup.initializeWeights(of: model) {
            log.info(line)
        }
        // Per-epoch validation history (history.json), kept consistent with the checkpoint on resume.
        let recorded = (try setup.directory.read(TrainingHistory.self, from: .history))?.epochs ?? []
        return Progress(state: state, history: TrainingHistory(epochs: Array(recorded.prefix(state.epoch))))
    }

    /// The shuffled batches of the training samples, the same every run for a seed.
    var sampler: BatchSampler {
        BatchSampler(count: trainIndices.count, batchSize: setup.params.batchSize, shuffle: true, seed: setup.params.seed)
    }

    func logStart(batchNormSync: Bool) {
        let p = setup.params, cluster = setup.context.cluster
        let batches = sampler.batchesPerEpoch
        log.info("Training \(p.modelVersion) (\(model.store.trainableScalarCount) parameters) on \(trainIndices.count) \(setup.splits.train.name) images, validating on \(setup.splits.val.count); \(p.numEpochs) epochs of \(batches) batches" + (p.distillationDescription.map { "; " + $0 } ?? ""))
        if cluster.isDistributed {
            log.info("Data parallel over \(cluster.size) processes of \(ComputeThreads.count) thread(s) each: every batch of \(p.batchSize) is shared out, gradients summed with MPI_Allreduce; BatchNorm "
                     + (batchNormSync ? "over the whole batch (sync_batchnorm)" : "over each process's share (as DDP; sync_batchnorm: true for the whole batch)"))
        }
        for term in terms { if let line = term.summary { log.info(line) } }
    }

    /// One pass over the shuffled training samples, with progress lines; the totals of this
    /// process's samples.
    func trainEpoch(_ epoch: Int, step: TrainingStep, started start: Date) throws -> TrainingStep.Totals {
        let p = setup.params, cluster = setup.context.cluster
        let augmentation = p.augmentation ? setup.transform : .none
        let batches = sampler.batches(epoch: epoch).map { $0.map { trainIndices[$0] } }
        // A streamed dataset reads the next batch's images (this process's share) while this one trains.
        func prefetch(_ b: Int) {
            guard b < batches.count else { return }
            let share = cluster.isDistributed ? cluster.share(of: batches[b].count) : batches[b].indices
            step.assembler.prefetch(Array(batches[b][share]))
        }
        prefetch(0)
        var totals = TrainingStep.Totals()
        for (b, indices) in batches.enumerated() {
            prefetch(b + 1)
            if step.batchNormSync != nil && indices.count < cluster.size {
                // A process without a sample cannot take part in the shared statistics: every
                // process leaves this (last, short) batch out alike.
                log.info("sync_batchnorm: batch \(b + 1) of epoch \(epoch + 1) has \(indices.count) samples for \(cluster.size) processes; left out")
                continue
            }
            let rows = try teacher.batch(indices, epoch: epoch, batch: b, seed: p.seed, augmentation: augmentation,
                                         imageSize: setup.splits.train.height)
            totals += try step.run(indices, rows, epoch: epoch, batch: b)
            batchesRun += 1
            try setup.context.afterBatch?(batchesRun)
            guard totals.seen > 0 else { continue }
            let elapsed = Date().timeIntervalSince(start)
            log.elapsedPerBatch = elapsed / Double(b + 1)
            log.progress(epoch: epoch + 1, epochs: p.numEpochs, batch: b + 1, batches: batches.count, loss: totals.lossSum / Double(totals.seen),
                         accuracy: Double(totals.correct) / Double(totals.seen), imagesPerSecond: Double(totals.seen) / max(elapsed, 1e-9),
                         every: p.saveSummarySteps)
        }
        return totals
    }

    /// Evaluates on the validation split, records the epoch (checkpoints, metrics, history) and
    /// logs its line. Rank 0 only.
    func endEpoch(_ epoch: Int, learningRate lr: Double, totals: TrainingStep.Totals, started start: Date, trainSeconds: Double,
                  progress: inout Progress) throws {
        let seen = max(totals.seen, 1)
        let trainLoss = totals.lossSum / Double(seen), trainAccuracy = Double(totals.correct) / Double(seen)
        let val = try setup.evaluator(model, on: setup.splits.val).run()
        let comparison = teacher.validation.map { TeacherComparison(student: val.logits, teacher: $0, classes: model.numClasses) }
        let seconds = Date().timeIntervalSince(start)
        progress.epochSeconds.append(seconds)
        progress.lastAccuracy = val.accuracy
        progress.state.epoch = epoch + 1
        let improved = val.accuracy > progress.state.bestAccuracy
        if improved { progress.state.bestAccuracy = val.accuracy; progress.state.bestEpoch = epoch }
        progress.history.epochs.append(.init(epoch: epoch + 1, valAccuracy: val.accuracy, valLoss: val.loss, trainAccuracy: trainAccuracy,
                                             trainLoss: trainLoss, learningRate: lr, seconds: seconds))
        let metrics = EpochMetrics(accuracy: val.accuracy, loss: val.loss, epoch: epoch + 1, trainAccuracy: trainAccuracy, trainLoss: trainLoss,
                                   teacherAgreement: comparison?.agreement, klToTeacher: comparison?.klToTeacher)
        try setup.directory.endEpoch(model: model, optimizer: optimizer, state: progress.state, datasetFingerprint: fingerprint,
                                     metrics: metrics, improved: improved, history: progress.history)
        log.info(String(format: "epoch %d/%d  lr %.3g  train loss %.4f acc %@  val loss %.4f acc %@%@  %.1f s (%.0f img/s)",
                        epoch + 1, setup.params.numEpochs, lr, trainLoss, percent(trainAccuracy), val.loss, percent(val.accuracy),
                        improved ? " (best)" : "", seconds, Double(totals.seen) / max(trainSeconds, 1e-9)))
    }
}
