/// The classic KD repository's student (`model/net.py`): three conv3x3-BN-maxpool-ReLU blocks
/// of num_channels x 1, 2, 4, then fc1-BN-ReLU-dropout and fc2. Names: conv1, bn1, ..., fc1,
/// fcbn1, fc2. The fc1 input size follows from the image size (4x4 for 32x32, 3x3 for 28x28).
/// The ReLU is applied before the max pooling (fused into the BN): the two commute, in value
/// and in gradient, and the fused form touches each activation once less.
enum CNN5 {
    static func make(_ inputShape: [Int], _ numClasses: Int, _ o: ModelOptions) -> Model {
        let b = ModelBuilder(seed: o.seed)
        let c = o.numChannels
        var layers: [Layer] = []
        var (channels, size) = (inputShape[0], inputShape[1])
        for (i, width) in [c, 2 * c, 4 * c].enumerated() {
            layers += [ConvBN(Conv2d(b, "conv\(i + 1)", channels, width, kernel: 3, padding: 1),
                              BatchNorm(b, "bn\(i + 1)", width, fusedReLU: true)),
                       Pool2d(.max, kernel: 2)]
            channels = width
            size /= 2
        }
        layers += [Flatten(), Linear(b, "fc1", size * size * 4 * c, 4 * c), BatchNorm(b, "fcbn1", 4 * c, fusedReLU: true),
                   Dropout(b, probability: o.dropoutRate), Linear(b, "fc2", 4 * c, numClasses)]
        return Model(name: "cnn5", network: Sequential(layers), builder: b, inputShape: inputShape, numClasses: numClasses)
    }
}
