/// A student's own features during training, for feature distillation: the outputs of its
/// stages (the same rule as `ModelFeatures`: outputs of layers (`tapLayers`) that the next layer
/// shrinks spatially) and its embedding (the input of the final linear layer), as plain
/// arrays. `Model.backward(_:through:stageGradients:embeddingGradient:)` takes a gradient for
/// each.
public struct TappedFeatures: Sendable {
    public struct Stage: Sendable {
        public var name: String
        /// [N, C, H, W].
        public var shape: [Int]
        /// Row-major values of `shape`.
        public var values: [Float]
    }
    public var stages: [Stage]
    public var embeddingSize: Int
    /// Row-major [N, embeddingSize].
    public var embedding: [Float]
    /// The layers (indices into `tapLayers`) whose outputs the stages are, where backward adds their gradients.
    let layers: [Int]
}

extension Model {
    /// A training-mode forward pass that also returns the stage outputs and the embedding.
    /// The plain `forward` is untouched: taps cost only the runs that ask for them.
    public func forwardTapped(_ images: Tensor) -> (logits: Tensor, features: TappedFeatures) {
        var stages: [TappedFeatures.Stage] = []
        var indices: [Int] = []
        var embedding: [Float] = []
        let logits = forwardVisiting(images, mode: .train, stage: { i, h in
            stages.append(.init(name: "stage\(stages.count + 1)", shape: h.shape, values: h.toArray()))
            indices.append(i)
        }, embedding: { embedding = $0.toArray() })
        return (logits, TappedFeatures(stages: stages, embeddingSize: embedding.count / images.shape[0], embedding: embedding, layers: indices))
    }

    /// Back-propagates dL/d(logits) after the `forwardTapped` that returned `taps`, adding
    /// dL/d(stage output) and dL/d(embedding) where given (plain row-major, the shapes the
    /// forward returned) as the gradient passes those points.
    public func backward(_ logitsGradient: Tensor, through taps: TappedFeatures, stageGradients: [[Float]?], embeddingGradient: [Float]?) {
        precondition(stageGradients.count == taps.layers.count, "\(stageGradients.count) stage gradients for \(taps.layers.count) stages")
        let (layers, starts) = tapLayers
        let frozen = network.frozenPrefix < starts.count ? starts[network.frozenPrefix] : layers.count
        var g = logitsGradient
        for i in layers.indices.reversed() where i >= frozen {
            g = layers[i].backward(g)
            guard i > frozen else { break }
            // g is now dL/d(output of layer i - 1).
            if i == starts.last!, let extra = embeddingGradient { Self.add(extra, to: g) }
            if let s = taps.layers.firstIndex(of: i - 1), let extra = stageGradients[s] { Self.add(extra, to: g) }
        }
    }

    private static func add(_ extra: [Float], to g: Tensor) {
        var values = g.toArray()
        precondition(values.count == extra.count, "a tap gradient of \(extra.count) values for \(g.shape)")
        for j in values.indices { values[j] += extra[j] }
        g.load(values)
    }
}
