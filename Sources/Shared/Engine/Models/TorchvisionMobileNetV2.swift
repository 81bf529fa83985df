/// torchvision's `mobilenet_v2` (width 1.0), the ImageNet network, as a `NetworkSpec` so its
/// state_dict names are torchvision's: `features.0` the strided 3x3 stem (conv, BN, ReLU6),
/// `features.1`-`features.17` the inverted residual blocks (`features.i.conv.*`: a 1x1
/// expansion where the factor is not 1, the 3x3 depthwise, the linear 1x1 projection and its
/// BN; a skip where stride 1 keeps the width), `features.18` the 1x1 convolution to 1280
/// channels, then global average pooling and `classifier.1` after a dropout of 0.2.
/// Convolutions N(0, 2/fan_out), the classifier N(0, 0.01) with zero bias, as torchvision.
/// `mobilenetv2` is RepDistiller's CIFAR variant (width 0.5, other strides, its own names).
public enum TorchvisionMobileNetV2 {
    /// (expansion, channels, blocks, stride) per stage: torchvision's `inverted_residual_setting`.
    static let stages: [(Int, Int, Int, Int)] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                                 (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    static func make(_ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        do {
            return try spec().build(inputShape: inputShape, numClasses: numClasses, seed: o.seed)
        } catch {
            preconditionFailure("torchvision_mobilenet_v2 for \(inputShape): \(error)")
        }
    }

    /// Conv, BN, ReLU6: torchvision's `Conv2dNormActivation`.
    static func convBNReLU6(_ out: Int, kernel: Int, stride: Int = 1, groups: Int = 1) -> LayerSpec {
        .sequential([.init(.conv(out: out, kernel: kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, bias: false)),
                     .init(.batchNorm(epsilon: 1e-5, momentum: 0.1)), .init(.relu6)])
    }

    /// The network; `dropout` is the classifier's (0 for the PyTorch parity test, whose
    /// masks cannot match).
    public static func spec(dropout: Float = 0.2) -> NetworkSpec {
        var features: [NetworkSpec.Entry] = [.init(convBNReLU6(32, kernel: 3, stride: 2))]
        var channels = 32
        for (t, c, n, s) in stages {
            for j in 0..<n {
                let stride = j == 0 ? s : 1, hidden = channels * t
                var body: [NetworkSpec.Entry] = t == 1 ? [] : [.init(convBNReLU6(hidden, kernel: 1))]
                body += [.init(convBNReLU6(hidden, kernel: 3, stride: stride, groups: hidden)),
                         .init(.conv(out: c, kernel: 1, stride: 1, padding: 0, groups: 1, bias: false)),
                         .init(.batchNorm(epsilon: 1e-5, momentum: 0.1))]
                if stride == 1 && channels == c {
                    features.append(.init(.residual(body: body, shortcut: nil, reluAfter: false, bodyName: "conv")))
                } else {
                    features.append(.init(.sequential([.init(.sequential(body), name: "conv")])))
                }
                channels = c
            }
        }
        features.append(.init(convBNReLU6(1280, kernel: 1)))
        var spec = NetworkSpec(name: "torchvision_mobilenet_v2", layers: [
            .init(.sequential(features), name: "features"), .init(.globalAvgPool, name: "pool"), .init(.flatten, name: "flatten"),
            .init(.sequential([.init(.dropout(probability: dropout)), .init(.linear(out: nil, bias: true))]), name: "classifier"),
        ])
        spec.convInit = .kaimingNormalFanOut
        spec.linearInit = .normal(std: 0.01)
        spec.linearBiasInit = .constant(0)
        return spec
    }
}
