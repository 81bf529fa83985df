#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// torch.optim's update rules (PyTorch 1.13) over the parameter arena, one loop each.
///
/// State (momentum buffers, Adam moments, step count) lives in flat arrays parallel to the
/// arena's unfrozen parameters (`ParameterStore.trainableRanges`, in order), so checkpoints save
/// it as three datasets and frozen parameters have none, as in PyTorch when only the trainable
/// ones are handed to the optimizer.
public final class Optimizer {
    public enum Kind: String, Codable, CaseIterable, Sendable { case sgd, adam, adamw }

    public let kind: Kind
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    /// Completed steps.
    public private(set) var step: Int = 0
    /// SGD momentum buffer, or Adam's first moment.
    public private(set) var firstMoment: [Float]
    /// Adam's second moment (empty for SGD).
    public private(set) var secondMoment: [Float]

    /// Everything an optimizer carries from step to step: what a checkpoint saves.
    public struct State: Equatable, Sendable {
        public var kind: Kind
        public var step: Int
        public var firstMoment: [Float]
        public var secondMoment: [Float]
        public init(kind: Kind, step: Int, firstMoment: [Float], secondMoment: [Float]) {
            self.kind = kind; self.step = step; self.firstMoment = firstMoment; self.secondMoment = secondMoment
        }
    }

    public func state() -> State { State(kind: kind, step: step, firstMoment: firstMoment, secondMoment: secondMoment) }

    /// Continues from a saved state. Another optimizer's state, or moments that do not fit the
    /// parameters, is an error (the message says which) and leaves this optimizer as it was.
    public func restore(_ saved: State) throws {
        guard saved.kind == kind else {
            throw KDError("was trained with optimizer '\(saved.kind.rawValue)', params.json now asks for '\(kind.rawValue)'; resume with the same optimizer")
        }
        let n = ranges.reduce(0) { $0 + $1.count }
        guard [saved.firstMoment, saved.secondMoment].allSatisfy({ $0.isEmpty || $0.count == n }) else {
            throw KDError("optimizer state does not fit the model (\(max(saved.firstMoment.count, saved.secondMoment.count)) values for \(n) unfrozen parameters: was the run started with other frozen or trainable patterns?)")
        }
        step = saved.step
        if !saved.firstMoment.isEmpty { firstMoment = saved.firstMoment }
        if !saved.secondMoment.isEmpty { secondMoment = saved.secondMoment }
    }
    let store: ParameterStore
    /// The arena ranges updated, fixed when the optimizer is made (freeze first).
    let ranges: [Range<Int>]

    public init(_ kind: Kind, store: ParameterStore, learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(store.isFinal, "finalize the parameter store before creating the optimizer")
        self.kind = kind; self.store = store; self.learningRate = learningRate; self.momentum = momentum
        self.nesterov = nesterov; self.weightDecay = weightDecay
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        ranges = store.trainableRanges
        let n = ranges.reduce(0) { $0 + $1.count }
        firstMoment = (kind == .sgd && momentum == 0) ? [] : [Float](repeating: 0, count: n)
        secondMoment = kind == .sgd ? [] : [Float](repeating: 0, count: n)
    }

    /// Applies one update from the gradients in the store.
    public func update() {
        store.modifyParameters { p, g in
            var state = 0
            for r in ranges {
                apply(p + r.lowerBound, g + r.lowerBound, count: r.count, state: state)
                state += r.count
            }
        }
        step += 1
    }

    /// Updates `n` parameters at `p` whose state starts at `state` in the moment arrays.
    private func apply(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, count n: Int, state: Int) {
        let lr = learningRate, wd = weightDecay
        switch kind {
        case .sgd:
            if momentum == 0 {
                for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            } else {
                let first = step == 0, m = momentum
                firstMoment.withUnsafeMutableBufferPointer { all in
                    let buf = all.baseAddress! + state
                    for i in 0..<n {
                        let d = g[i] + wd * p[i]
                        let b = first ? d : m * buf[i] + d  // dampening 0; torch clones d_p on the first step
                        buf[i] = b
                        p[i] -= lr * (nesterov ? d + m * b : b)
                    }
                }
            }
        case .adam, .adamw:
            let t = Float(step + 1)
            let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
            let stepSize = lr / bc1, rootBc2 = bc2.squareRoot()
            let (b1, b2, eps, decoupled) = (beta1, beta2, epsilon, kind == .adamw)
            firstMoment.withUnsafeMutableBufferPointer { first in
                secondMoment.withUnsafeMutableBufferPointer { second in
                    let m = first.baseAddress! + state, v = second.baseAddress! + state
                    for i in 0..<n {
                        var grad = g[i]
                        if decoupled { p[i] *= 1 - lr * wd } else { grad += wd * p[i] }
                        m[i] = b1 * m[i] + (1 - b1) * grad
                        v[i] = b2 * v[i] + (1 - b2) * grad * grad
                        p[i] -= stepSize * m[i] / (v[i].squareRoot() / rootBc2 + eps)
                    }
                }
            }
        }
    }
}
