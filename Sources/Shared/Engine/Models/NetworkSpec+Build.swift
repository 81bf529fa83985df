/// Builds a `NetworkSpec` into a `Model`, checking every layer's shapes on the way: a layer
/// that cannot take what reaches it is a one-line error naming it by its state_dict path.
extension NetworkSpec {
    public func build(inputShape: [Int], numClasses: Int, seed: UInt64) throws -> Model {
        let b = ModelBuilder(seed: seed)
        var builder = SpecBuilder(builder: b, numClasses: numClasses, shape: inputShape, spec: self)
        let layers = try builder.build(self.layers, prefix: "")
        guard builder.shape == [numClasses] else {
            throw KDError("model_spec '\(name)': the network ends in shape \(builder.shape), the dataset has \(numClasses) classes (end with a linear layer of out \"classes\")")
        }
        return Model(name: name, network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}

/// Walks the entries, tracking the shape of one sample ([C, H, W] or [F]).
private struct SpecBuilder {
    let builder: ModelBuilder
    let numClasses: Int
    var shape: [Int]
    let convInit: WeightInit, linearInit: WeightInit, linearBiasInit: WeightInit?

    init(builder: ModelBuilder, numClasses: Int, shape: [Int], spec: NetworkSpec) {
        self.builder = builder; self.numClasses = numClasses; self.shape = shape
        convInit = spec.convInit; linearInit = spec.linearInit; linearBiasInit = spec.linearBiasInit
    }

    /// The layers of `entries`, with BatchNorm after a convolution folded into `ConvBN` and a
    /// ReLU after a BatchNorm fused into it (the same arithmetic, fewer passes).
    mutating func build(_ entries: [NetworkSpec.Entry], prefix: String) throws -> [Layer] {
        var layers: [Layer] = []
        for (i, entry) in entries.enumerated() {
            let path = prefix + (entry.name ?? "\(i)")
            let fuseReLU = i + 1 < entries.count && entries[i + 1].layer == .relu
            if case .relu = entry.layer, let norm = layers.last as? FusableNorm, norm.fusedReLU { continue }
            let layer = try make(entry.layer, path: path, fuseReLU: fuseReLU)
            if let norm = layer as? BatchNorm, let conv = layers.last as? Conv2d {
                layers[layers.count - 1] = ConvBN(conv, norm)
            } else {
                layers.append(layer)
            }
        }
        return layers
    }

    private func fail(_ path: String, _ spec: LayerSpec, _ what: String) -> KDError {
        KDError("model_spec: layer \(path) (\(spec.typeName)): \(what)")
    }

    private func planes(_ path: String, _ spec: LayerSpec) throws -> (c: Int, h: Int, w: Int) {
        guard shape.count == 3 else { throw fail(path, spec, "needs [channels, height, width], gets flat features \(shape)") }
        return (shape[0], shape[1], shape[2])
    }

    private func size(_ n: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ path: String, _ spec: LayerSpec) throws -> Int {
        guard kernel >= 1, stride >= 1, padding >= 0, padding * 2 <= kernel else {
            throw fail(path, spec, "kernel \(kernel), stride \(stride), padding \(padding) (kernel and stride at least 1, padding at most half the kernel)")
        }
        let out = (n + 2 * padding - kernel) / stride + 1
        guard n + 2 * padding >= kernel, out >= 1 else {
            throw fail(path, spec, "a \(kernel)x\(kernel) window does not fit input \(shape) with padding \(padding)")
        }
        return out
    }

    private mutating func make(_ spec: LayerSpec, path: String, fuseReLU: Bool) throws -> Layer {
        switch spec {
        case let .conv(out, kernel, stride, padding, groups, bias):
            let (c, h, w) = try planes(path, spec)
            let outChannels = out ?? numClasses
            guard groups >= 1, c % groups == 0, outChannels % groups == 0, outChannels >= 1 else {
                throw fail(path, spec, "\(c) input and \(outChannels) output channels in \(groups) groups (both must divide by the groups)")
            }
            shape = [outChannels, try size(h, kernel, stride, padding, path, spec), try size(w, kernel, stride, padding, path, spec)]
            return Conv2d(builder, path, c, outChannels, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: bias,
                          init: convInit, biasInit: convInit == .pytorchDefault ? nil : .constant(0))
        case let .batchNorm(epsilon, momentum):
            guard shape.count == 3 || shape.count == 1 else { throw fail(path, spec, "needs [C, H, W] or flat features, gets \(shape)") }
            return BatchNorm(builder, path, shape[0], epsilon: epsilon, momentum: momentum, fusedReLU: fuseReLU)
        case .relu: return ReLU()
        case .relu6: return Activation(.relu6)
        case .leakyReLU(let slope):
            guard slope >= 0 else { throw fail(path, spec, "negative_slope \(slope) (must be at least 0)") }
            return Activation(.leakyReLU(slope: slope))
        case let .maxPool(kernel, stride, padding), let .avgPool(kernel, stride, padding):
            let (c, h, w) = try planes(path, spec)
            shape = [c, try size(h, kernel, stride, padding, path, spec), try size(w, kernel, stride, padding, path, spec)]
            if case .maxPool = spec { return Pool2d(.max, kernel: kernel, stride: stride, padding: padding) }
            return Pool2d(.average, kernel: kernel, stride: stride, padding: padding)
        case .globalAvgPool:
            let (c, h, w) = try planes(path, spec)
            guard h == w else { throw fail(path, spec, "needs square planes, gets \(shape)") }
            shape = [c, 1, 1]
            return GlobalAvgPool()
        case .flatten:
            shape = [shape.reduce(1, *)]
            return Flatten()
        default:
            return try makeDense(spec, path: path)
        }
    }

    private mutating func makeDense(_ spec: LayerSpec, path: String) throws -> Layer {
        switch spec {
        case let .linear(out, bias):
            guard shape.count == 1 else { throw fail(path, spec, "needs flat features, gets \(shape) (put a flatten layer before it)") }
            let outFeatures = out ?? numClasses
            guard outFeatures >= 1 else { throw fail(path, spec, "out \(outFeatures) (must be at least 1)") }
            defer { shape = [outFeatures] }
            return Linear(builder, path, shape[0], outFeatures, bias: bias, init: linearInit, biasInit: linearBiasInit)
        case .dropout(let p):
            guard p >= 0, p < 1 else { throw fail(path, spec, "p \(p) (must be in [0, 1))") }
            return Dropout(builder, probability: p)
        case .sequential(let entries):
            return Sequential(try build(entries, prefix: path + "."))
        case let .residual(body, shortcut, reluAfter, bodyName):
            let input = shape
            let main = Sequential(try build(body, prefix: path + "." + bodyName + "."))
            let bodyShape = shape
            shape = input
            let skip = try shortcut.map { Sequential(try build($0, prefix: path + ".shortcut.")) }
            guard shape == bodyShape else {
                throw fail(path, spec, "body gives \(bodyShape), \(shortcut == nil ? "the identity shortcut" : "the shortcut") gives \(shape)")
            }
            return Residual(main, shortcut: skip, reluAfter: reluAfter)
        default:
            preconditionFailure("makeDense: \(spec.typeName) is built by make")
        }
    }
}

/// A BatchNorm as the fusion step sees it.
private protocol FusableNorm { var fusedReLU: Bool { get } }
extension BatchNorm: FusableNorm {}
extension ConvBN: FusableNorm { var fusedReLU: Bool { norm.fusedReLU } }
