#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Learning rate as a closed-form function of the epoch (so a resumed run needs only the
/// epoch number), matching torch.optim.lr_scheduler stepped once per epoch.
public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        /// The base rate throughout.
        case constant
        /// StepLR: times gamma every `stepSize` epochs.
        case step
        /// MultiStepLR: times gamma at each milestone epoch.
        case multistep
        /// CosineAnnealingLR: from the base rate to `minLR` over `totalEpochs`.
        case cosine
    }

    public var kind: Kind = .constant
    public var stepSize: Int = 30
    public var gamma: Double = 0.1
    public var milestones: [Int] = []
    public var totalEpochs: Int = 1
    public var minLR: Double = 0
    /// Linear warm-up (LinearLR) over the first `warmupEpochs`, from `warmupStartFactor` x.
    public var warmupEpochs: Int = 0
    public var warmupStartFactor: Double = 0.1

    public init(kind: Kind = .constant) { self.kind = kind }

    /// The rate for `epoch` (0-based) given the base rate.
    public func rate(base: Double, epoch: Int) -> Double {
        var lr: Double
        switch kind {
        case .constant: lr = base
        case .step: lr = base * pow(gamma, Double(epoch / max(stepSize, 1)))
        case .multistep: lr = base * pow(gamma, Double(milestones.filter { $0 <= epoch }.count))
        case .cosine:
            let t = Double(min(epoch, totalEpochs)), tMax = Double(max(totalEpochs, 1))
            lr = minLR + (base - minLR) * (1 + cos(Double.pi * t / tMax)) / 2
        }
        if warmupEpochs > 0 && epoch < warmupEpochs {
            lr *= warmupStartFactor + (1 - warmupStartFactor) * Double(epoch) / Double(warmupEpochs)
        }
        return lr
    }
}
