/// What a teacher exports for feature distillation (RepDistiller's and torchdistill's inputs),
/// from one evaluation-mode forward pass:
/// - the **embedding**: the input of the final linear layer, [N, D];
/// - the **attention map** of each stage output (Zagoruyko & Komodakis, "Paying More Attention
///   to Attention", ICLR 2017): the mean over channels of the squared activations, [N, H * W],
///   not yet L2-normalised (attention transfer normalises each row when it compares).
/// A stage output is the output of a layer whose next layer shrinks the image (a strided
/// block, a pooling, global pooling) and is not already 1 x 1, among the top-level layers with
/// nested sequences opened (`Model.tapLayers`: a JSON-described `features` block, torchvision's
/// MobileNetV2): for the CIFAR ResNets these are the three `layer1..3` outputs that
/// RepDistiller's attention transfer uses.
public struct ModelFeatures: Sendable {
    /// One stage's attention maps.
    public struct Attention: Sendable {
        /// "stage1", "stage2", ... in forward order.
        public var name: String
        /// The stage output's channels, height and width.
        public var channels: Int, height: Int, width: Int
        /// Row-major [N, height * width].
        public var values: [Float]

        public init(name: String, channels: Int, height: Int, width: Int, values: [Float]) {
            self.name = name; self.channels = channels; self.height = height; self.width = width; self.values = values
        }
    }

    public var embeddingSize: Int
    /// Row-major [N, embeddingSize].
    public var embedding: [Float]
    public var attention: [Attention]

    public init(embeddingSize: Int, embedding: [Float], attention: [Attention]) {
        self.embeddingSize = embeddingSize; self.embedding = embedding; self.attention = attention
    }

    /// Appends another batch's rows (same model, so the same sizes).
    public mutating func append(_ other: ModelFeatures) {
        precondition(other.embeddingSize == embeddingSize && other.attention.count == attention.count, "features of another model")
        embedding += other.embedding
        for i in attention.indices { attention[i].values += other.attention[i].values }
    }
}

extension Model {
    /// An evaluation-mode forward pass that also returns the features above.
    public func forwardWithFeatures(_ images: Tensor) -> (logits: Tensor, features: ModelFeatures) {
        var attention: [ModelFeatures.Attention] = []
        var embedding: Tensor?
        let logits = forwardVisiting(images, mode: .eval, stage: { _, h in
            attention.append(Self.attention(of: h, name: "stage\(attention.count + 1)"))
        }, embedding: { embedding = $0 })
        let e = embedding!
        return (logits, ModelFeatures(embeddingSize: e.count / e.shape[0], embedding: e.toArray(), attention: attention))
    }

    /// A forward pass through the top-level layers that shows each stage output (with the index
    /// of the layer that produced it) and the embedding to the caller as it passes: what the
    /// exported features and the student's taps both read.
    func forwardVisiting(_ images: Tensor, mode: Mode, stage: (_ layerIndex: Int, Tensor) -> Void,
                         embedding: (Tensor) -> Void) -> Tensor {
        let (layers, starts) = tapLayers
        precondition(hasEmbedding, "\(name): the last layer is not linear, so there is no embedding")
        let frozen = network.frozenPrefix < starts.count ? starts[network.frozenPrefix] : layers.count
        var h = images
        for (i, layer) in layers.enumerated() {
            if i == starts.last! { embedding(h) }
            let next = layer.forward(h, mode: i < frozen ? .eval : mode)
            if i > 0, Self.isStageOutput(h.shape, followedBy: next.shape) { stage(i - 1, h) }
            h = next
        }
        precondition(h.shape == [images.shape[0], numClasses] && h.desc.isPlain, "\(name) produced \(h.shape)")
        return h
    }

    /// The stage rule: a 4-D output larger than 1x1 that the next
    /// layer shrinks (or flattens).
    static func isStageOutput(_ shape: [Int], followedBy next: [Int]) -> Bool {
        shape.count == 4 && shape[2] * shape[3] > 1 && (next.count != 4 || next[2] < shape[2])
    }

    /// mean_c x[n, c, h, w]^2 of a [N, C, H, W] tensor in any layout, as [N, H * W].
    static func attention(of x: Tensor, name: String) -> ModelFeatures.Attention {
        let (n, c, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let values = x.toArray()
        let plane = height * width
        var maps = [Float](repeating: 0, count: n * plane)
        for i in 0..<n {
            for ch in 0..<c {
                let base = (i * c + ch) * plane
                for p in 0..<plane { maps[i * plane + p] += values[base + p] * values[base + p] }
            }
        }
        let scale = 1 / Float(c)
        for j in maps.indices { maps[j] *= scale }
        return ModelFeatures.Attention(name: name, channels: c, height: height, width: width, values: maps)
    }
}

extension Model {
    /// Whether the network ends in a linear layer whose input is the embedding: the last
    /// top-level layer is linear, or a block of dropout and then linear (torchvision's
    /// `classifier`), whose input is then the embedding. Feature methods and `--features`
    /// need one.
    public var hasEmbedding: Bool {
        switch network.layers.last {
        case is Linear: return true
        case let s as Sequential: return s.layers.last is Linear && s.layers.dropLast().allSatisfy { $0 is Dropout }
        default: return false
        }
    }
}

extension Model {
    /// The layers taps walk: the top-level ones with every nested `Sequential` opened (a block
    /// with a skip connection stays whole), and the index among them where each top-level
    /// layer starts. Running them in order is running the network.
    var tapLayers: (layers: [Layer], topStarts: [Int]) {
        func open(_ layer: Layer) -> [Layer] { (layer as? Sequential).map { $0.layers.flatMap(open) } ?? [layer] }
        var layers: [Layer] = [], starts: [Int] = []
        for top in network.layers {
            starts.append(layers.count)
            layers += open(top)
        }
        return (layers, starts)
    }
}
