/// VGG with batch norm as RepDistiller defines it (`models/vgg.py`): five blocks
/// `block0..4` of conv3x3(+bias)-BN-ReLU (the block's last ReLU applied after it), max pooling
/// after blocks 0-2 (block 3's pool only for 64x64 inputs), global average pooling, and a
/// `classifier` Linear(512). Conv weights N(0, 2/(9 out)), biases 0; classifier N(0, 0.01).
enum VGG {
    static let configurations: [String: [[Int]]] = [
        "vgg8": [[64], [128], [256], [512], [512]],
        "vgg11": [[64], [128], [256, 256], [512, 512], [512, 512]],
        "vgg13": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
        "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    ]

    static func make(name: String, _ cfg: [[Int]], _ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        let b = ModelBuilder(seed: o.seed)
        var layers: [Layer] = []
        var channels = inputShape[0]
        for (i, block) in cfg.enumerated() {
            var index = 0
            for width in block {
                layers.append(ConvBN(Conv2d(b, "block\(i).\(index)", channels, width, kernel: 3, padding: 1,
                                            init: .kaimingNormalFanOut, biasInit: .constant(0)),
                                     BatchNorm(b, "block\(i).\(index + 1)", width, fusedReLU: true)))
                index += 3
                channels = width
            }
            if i < 3 || (i == 3 && inputShape[1] == 64) { layers.append(Pool2d(.max, kernel: 2)) }
        }
        layers += [GlobalAvgPool(), Flatten(), Linear(b, "classifier", 512, numClasses, init: .normal(std: 0.01), biasInit: .constant(0))]
        return Model(name: name, network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}
