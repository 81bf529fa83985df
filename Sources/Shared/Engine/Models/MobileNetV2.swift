/// MobileNetV2 as RepDistiller registers it (`models/mobilenetv2.py`, `mobile_half`:
/// expansion 6, width 0.5): a strided 3x3 stem `conv1`, seven stages of inverted residual
/// blocks `blocks.i.j.conv.{0..7}` (1x1 expand, 3x3 depthwise, 1x1 project, each with BN; a skip
/// connection where stride 1 keeps the width), a 1x1 `conv2` to 1280 channels, global average
/// pooling and `classifier.0`. Convolutions N(0, 2/(k*k*out)), classifier N(0, 0.01), biases 0.
enum MobileNetV2 {
    /// (expansion, channels, blocks, stride) per stage, before the width multiplier.
    static let stages: [(Int, Int, Int, Int)] = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                                                 (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    static let widthMultiplier = 0.5
    static let lastChannels = 1280

    static func make(_ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        let b = ModelBuilder(seed: o.seed)
        func convBN(_ name: String, _ bnName: String, _ i: Int, _ out: Int, kernel: Int, stride: Int = 1, groups: Int = 1, relu: Bool) -> Layer {
            ConvBN(Conv2d(b, name, i, out, kernel: kernel, stride: stride, padding: kernel / 2, groups: groups, bias: false,
                          init: .kaimingNormalFanOut),
                   BatchNorm(b, bnName, out, fusedReLU: relu))
        }
        var channels = Int(32 * widthMultiplier)
        var layers: [Layer] = [convBN("conv1.0", "conv1.1", inputShape[0], channels, kernel: 3, stride: 2, relu: true)]
        for (stage, (t, c, n, s)) in stages.enumerated() {
            let out = Int(Double(c) * widthMultiplier)
            for j in 0..<n {
                let stride = j == 0 ? s : 1
                let p = "blocks.\(stage).\(j).conv."
                let hidden = channels * t
                let body = Sequential([
                    convBN(p + "0", p + "1", channels, hidden, kernel: 1, relu: true),
                    convBN(p + "3", p + "4", hidden, hidden, kernel: 3, stride: stride, groups: hidden, relu: true),
                    convBN(p + "6", p + "7", hidden, out, kernel: 1, relu: false),
                ])
                layers.append(stride == 1 && channels == out ? Residual(body) : body)
                channels = out
            }
        }
        layers += [convBN("conv2.0", "conv2.1", channels, lastChannels, kernel: 1, relu: true),
                   GlobalAvgPool(), Flatten(),
                   Linear(b, "classifier.0", lastChannels, numClasses, init: .normal(std: 0.01), biasInit: .constant(0))]
        return Model(name: "mobilenetv2", network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}
