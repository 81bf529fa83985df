/// A network described as data (params.json's `model_spec`) rather than in Swift: layers in
/// order, nested as PyTorch's `nn.Sequential` nests them, so that the state_dict names come out
/// as PyTorch's do for the same module tree. A layer's name is its `name` when it has one
/// (`nn.Sequential(OrderedDict(...))`), else its index among its siblings; a residual block's
/// children are `body` and `shortcut` (scripts/model_spec.py is the PyTorch side).
public struct NetworkSpec: Equatable, Sendable {
    /// What checkpoints record as the model (`model_version`).
    public var name: String
    public var layers: [Entry]
    /// How convolutions and linear layers start: PyTorch's defaults unless a model definition
    /// says otherwise (torchvision's MobileNetV2).
    public var convInit = WeightInit.pytorchDefault
    public var linearInit = WeightInit.pytorchDefault
    public var linearBiasInit: WeightInit?

    public init(name: String, layers: [Entry]) { self.name = name; self.layers = layers }

    /// One layer and the name it takes among its siblings (nil: its index).
    public struct Entry: Equatable, Sendable {
        public var name: String?
        public var layer: LayerSpec
        public init(_ layer: LayerSpec, name: String? = nil) { self.layer = layer; self.name = name }
    }
}

/// One layer of a `NetworkSpec`, with PyTorch's meaning and defaults.
public indirect enum LayerSpec: Equatable, Sendable {
    /// `nn.Conv2d(in, out, kernel, stride, padding, groups=groups, bias=bias)`; `in` is the
    /// incoming channel count. `out` nil means the dataset's class count.
    case conv(out: Int?, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool)
    /// `nn.BatchNorm2d` on [C, H, W], `nn.BatchNorm1d` on flat features.
    case batchNorm(epsilon: Float, momentum: Float)
    case relu, relu6
    case leakyReLU(slope: Float)
    case maxPool(kernel: Int, stride: Int, padding: Int)
    case avgPool(kernel: Int, stride: Int, padding: Int)
    /// `nn.AdaptiveAvgPool2d(1)`: [C, H, W] -> [C, 1, 1].
    case globalAvgPool
    /// `nn.Flatten()`: [C, H, W] -> [C*H*W].
    case flatten
    /// `nn.Linear(in, out, bias)`; `out` nil means the dataset's class count.
    case linear(out: Int?, bias: Bool)
    case dropout(probability: Float)
    case sequential([NetworkSpec.Entry])
    /// y = body(x) + shortcut(x) (the identity without a shortcut), then a ReLU if asked. The
    /// body's state_dict name is `bodyName` ("body"; torchvision's inverted residuals say "conv").
    case residual(body: [NetworkSpec.Entry], shortcut: [NetworkSpec.Entry]?, reluAfter: Bool, bodyName: String)

    /// The layer's type as written in JSON, for messages.
    public var typeName: String {
        switch self {
        case .conv: return "conv"
        case .batchNorm: return "batchnorm"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .leakyReLU: return "leaky_relu"
        case .maxPool: return "maxpool"
        case .avgPool: return "avgpool"
        case .globalAvgPool: return "global_avgpool"
        case .flatten: return "flatten"
        case .linear: return "linear"
        case .dropout: return "dropout"
        case .sequential: return "sequential"
        case .residual: return "residual"
        }
    }
}
