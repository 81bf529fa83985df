import Foundation

/// torch.optim's update rules (PyTorch 1.13) over the parameter arena, one loop each.
///
/// State (momentum buffers, Adam moments, step count) lives in flat arrays parallel to the
/// arena, so checkpoints save it as three datasets.
public final class Optimizer {
    public enum Kind: String, Codable, CaseIterable, Sendable { case sgd, adam, adamw }

    public let kind: Kind
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    /// Completed steps.
    public var step: Int = 0
    /// SGD momentum buffer, or Adam's first moment.
    public var firstMoment: [Float]
    /// Adam's second moment (empty for SGD).
    public var secondMoment: [Float]
    let store: ParameterStore

    public init(_ kind: Kind, store: ParameterStore, learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(store.isFinal, "finalize the parameter store before creating the optimizer")
        self.kind = kind; self.store = store; self.learningRate = learningRate; self.momentum = momentum
        self.nesterov = nesterov; self.weightDecay = weightDecay
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        let n = store.parameterCount
        firstMoment = (kind == .sgd && momentum == 0) ? [] : [Float](repeating: 0, count: n)
        secondMoment = kind == .sgd ? [] : [Float](repeating: 0, count: n)
    }

    /// Applies one update from the gradients in the store.
    public func update() {
        let n = store.parameterCount
        let p = store.values!, g = store.grads!
        let lr = learningRate, wd = weightDecay
        switch kind {
        case .sgd:
            if momentum == 0 {
                for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            } else {
                let first = step == 0, m = momentum
                firstMoment.withUnsafeMutableBufferPointer { buf in
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
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { v in
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
        step += 1
        store.version &+= 1
    }
}
