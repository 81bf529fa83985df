/// torchvision's ImageNet ResNets (`torchvision/models/resnet.py`, v1.5: the stride sits on the
/// 3x3 convolution of a bottleneck): a 7x7 stride-2 stem and 3x3 stride-2 max pooling, four
/// stages at widths 64, 128, 256, 512 (stride 1, 2, 2, 2) of BasicBlocks (18, 34) or
/// Bottlenecks with expansion 4 (50), 1x1-conv + BN `downsample` shortcuts, global average
/// pooling, `fc`. Parameter names and shapes are torchvision's state_dict, so its weights load
/// as they are; the stem takes the dataset's channel count (torchvision's takes 3).
/// Convolutions are kaiming-normal (fan_out) without bias, BN starts at (1, 0).
enum TorchvisionResNet {
    enum Block { case basic, bottleneck }

    /// (block, blocks per stage) of each registered depth.
    static let configurations: [(name: String, block: Block, blocks: [Int])] = [
        ("torchvision_resnet18", .basic, [2, 2, 2, 2]),
        ("torchvision_resnet34", .basic, [3, 4, 6, 3]),
        ("torchvision_resnet50", .bottleneck, [3, 4, 6, 3]),
    ]

    static func make(name: String, block: Block, blocks: [Int], _ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        let b = ModelBuilder(seed: o.seed)
        func conv(_ name: String, _ cin: Int, _ cout: Int, _ kernel: Int, stride: Int = 1) -> Conv2d {
            Conv2d(b, name, cin, cout, kernel: kernel, stride: stride, padding: kernel / 2, bias: false, init: .kaimingNormalFanOut)
        }
        var layers: [Layer] = [ConvBN(conv("conv1", inputShape[0], 64, 7, stride: 2), BatchNorm(b, "bn1", 64, fusedReLU: true)),
                               Pool2d(.max, kernel: 3, stride: 2, padding: 1)]
        let expansion = block == .basic ? 1 : 4
        var inPlanes = 64
        for (stage, planes) in [64, 128, 256, 512].enumerated() {
            for i in 0..<blocks[stage] {
                let stride = (i == 0 && stage > 0) ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                let main: Sequential
                switch block {
                case .basic:
                    main = Sequential([
                        ConvBN(conv(p + ".conv1", inPlanes, planes, 3, stride: stride), BatchNorm(b, p + ".bn1", planes, fusedReLU: true)),
                        ConvBN(conv(p + ".conv2", planes, planes, 3), BatchNorm(b, p + ".bn2", planes)),
                    ])
                case .bottleneck:
                    main = Sequential([
                        ConvBN(conv(p + ".conv1", inPlanes, planes, 1), BatchNorm(b, p + ".bn1", planes, fusedReLU: true)),
                        ConvBN(conv(p + ".conv2", planes, planes, 3, stride: stride), BatchNorm(b, p + ".bn2", planes, fusedReLU: true)),
                        ConvBN(conv(p + ".conv3", planes, planes * expansion, 1), BatchNorm(b, p + ".bn3", planes * expansion)),
                    ])
                }
                var shortcut: Layer?
                if stride != 1 || inPlanes != planes * expansion {
                    shortcut = ConvBN(conv(p + ".downsample.0", inPlanes, planes * expansion, 1, stride: stride),
                                      BatchNorm(b, p + ".downsample.1", planes * expansion))
                }
                layers.append(Residual(main, shortcut: shortcut, reluAfter: true))
                inPlanes = planes * expansion
            }
        }
        layers += [GlobalAvgPool(), Flatten(), Linear(b, "fc", inPlanes, numClasses)]
        return Model(name: name, network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}
