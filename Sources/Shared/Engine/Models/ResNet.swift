/// CIFAR ResNets of RepDistiller (`models/resnet.py`): a 3x3 stem, three stages of
/// (depth - 2) / 6 basic blocks at widths[1...3] (stride 1, 2, 2), 1x1-conv + BN `downsample`
/// shortcuts where the shape changes, global average pooling, `fc`. Convolutions have no bias
/// and kaiming-normal (fan_out) weights; BN starts at (1, 0).
enum CIFARResNet {
    static func make(name: String, depth: Int, widths: [Int], _ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        precondition((depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n + 2")
        let b = ModelBuilder(seed: o.seed)
        let blocks = (depth - 2) / 6
        var layers: [Layer] = [ConvBN(Conv2d(b, "conv1", inputShape[0], widths[0], kernel: 3, padding: 1, bias: false, init: .kaimingNormalFanOut),
                                      BatchNorm(b, "bn1", widths[0], fusedReLU: true))]
        var inPlanes = widths[0]
        for stage in 0..<3 {
            let planes = widths[stage + 1]
            for i in 0..<blocks {
                let stride = (i == 0 && stage > 0) ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                let main = Sequential([
                    ConvBN(Conv2d(b, p + ".conv1", inPlanes, planes, kernel: 3, stride: stride, padding: 1, bias: false, init: .kaimingNormalFanOut),
                           BatchNorm(b, p + ".bn1", planes, fusedReLU: true)),
                    ConvBN(Conv2d(b, p + ".conv2", planes, planes, kernel: 3, padding: 1, bias: false, init: .kaimingNormalFanOut),
                           BatchNorm(b, p + ".bn2", planes)),
                ])
                var shortcut: Layer?
                if stride != 1 || inPlanes != planes {
                    shortcut = ConvBN(Conv2d(b, p + ".downsample.0", inPlanes, planes, kernel: 1, stride: stride, bias: false, init: .kaimingNormalFanOut),
                                      BatchNorm(b, p + ".downsample.1", planes))
                }
                layers.append(Residual(main, shortcut: shortcut, reluAfter: true))
                inPlanes = planes
            }
        }
        layers += [GlobalAvgPool(), Flatten(), Linear(b, "fc", inPlanes, numClasses)]
        return Model(name: name, network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}

/// ResNet-18 of the classic KD repository (`model/resnet.py`, kuangliu's CIFAR variant):
/// 3x3 stem at 64 channels, four stages of two basic blocks (64, 128, 256, 512), `shortcut.0/.1`
/// 1x1-conv + BN shortcuts, global average pooling, `linear`. PyTorch's default initialisation.
enum ResNet18 {
    static func make(_ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        let b = ModelBuilder(seed: o.seed)
        var layers: [Layer] = [ConvBN(Conv2d(b, "conv1", inputShape[0], 64, kernel: 3, padding: 1, bias: false),
                                      BatchNorm(b, "bn1", 64, fusedReLU: true))]
        var inPlanes = 64
        for (stage, planes) in [64, 128, 256, 512].enumerated() {
            for i in 0..<2 {
                let stride = (i == 0 && stage > 0) ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                let main = Sequential([
                    ConvBN(Conv2d(b, p + ".conv1", inPlanes, planes, kernel: 3, stride: stride, padding: 1, bias: false),
                           BatchNorm(b, p + ".bn1", planes, fusedReLU: true)),
                    ConvBN(Conv2d(b, p + ".conv2", planes, planes, kernel: 3, padding: 1, bias: false),
                           BatchNorm(b, p + ".bn2", planes)),
                ])
                var shortcut: Layer?
                if stride != 1 || inPlanes != planes {
                    shortcut = ConvBN(Conv2d(b, p + ".shortcut.0", inPlanes, planes, kernel: 1, stride: stride, bias: false),
                                      BatchNorm(b, p + ".shortcut.1", planes))
                }
                layers.append(Residual(main, shortcut: shortcut, reluAfter: true))
                inPlanes = planes
            }
        }
        layers += [GlobalAvgPool(), Flatten(), Linear(b, "linear", 512, numClasses)]
        return Model(name: "resnet18", network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}
