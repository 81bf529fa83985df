/// A network with its parameters: what the stages train, evaluate and checkpoint.
/// Input: a batch [N, C, H, W]; output: plain logits [N, classes].
public final class Model {
    public let name: String
    public let network: Sequential
    public let store: ParameterStore
    public let inputShape: [Int]
    public let numClasses: Int

    init(name: String, network: Sequential, builder: ModelBuilder, inputShape: [Int], numClasses: Int) {
        self.name = name
        self.network = network
        self.store = builder.store
        self.inputShape = inputShape
        self.numClasses = numClasses
        store.finalize()
        network.computesInputGradient = false  // nobody needs dL/d(image)
    }

    public func forward(_ images: Tensor, mode: Mode) -> Tensor {
        let logits = network.forward(images, mode: mode)
        precondition(logits.shape == [images.shape[0], numClasses] && logits.desc.isPlain, "\(name) produced \(logits.shape)")
        return logits
    }

    /// Back-propagates dL/d(logits), adding into the parameter gradients.
    public func backward(_ logitsGradient: Tensor) { _ = network.backward(logitsGradient) }

    /// Gives every BatchNorm layer `synchronizer` (SyncBatchNorm over a data-parallel job), or
    /// takes it away with nil.
    public func synchronizeBatchNorm(_ synchronizer: BatchNormSynchronizer?) {
        for case let norm as BatchNorm in allLayers { norm.synchronizer = synchronizer }
    }

    /// Every Dropout layer, in order (their generator states belong in checkpoints).
    public var dropoutLayers: [Dropout] { allLayers.compactMap { $0 as? Dropout } }

    /// Convolution and fully connected FLOPs of the last forward pass (the arithmetic that
    /// dominates; a training step costs about three times this).
    public var lastForwardFLOPs: Int {
        allLayers.reduce(0) { total, layer in
            total + ((layer as? Conv2d)?.lastForwardFLOPs ?? 0) + ((layer as? Linear)?.lastForwardFLOPs ?? 0)
        }
    }

    /// Every layer, depth first, containers included.
    public var allLayers: [Layer] { Self.flatten(network) }

    static func flatten(_ layer: Layer) -> [Layer] {
        switch layer {
        case let s as Sequential: return [s] + s.layers.flatMap { flatten($0) }
        case let r as Residual: return [r] + flatten(r.main) + (r.shortcut.map { flatten($0) } ?? [])
        case let c as ConvBN: return [c, c.conv, c.norm]
        default: return [layer]
        }
    }
}

/// Settings a model definition may use (from params.json).
public struct ModelOptions: Sendable {
    /// cnn5's base width (the classic repository's `num_channels`).
    public var numChannels: Int = 32
    public var dropoutRate: Float = 0.5
    public var seed: UInt64 = 0
    public init(numChannels: Int = 32, dropoutRate: Float = 0.5, seed: UInt64 = 0) {
        self.numChannels = numChannels; self.dropoutRate = dropoutRate; self.seed = seed
    }
}
