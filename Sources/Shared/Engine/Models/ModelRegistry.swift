/// Every model by its `model_version` name.
public enum ModelRegistry {
    public typealias Builder = @Sendable (_ inputShape: [Int], _ numClasses: Int, _ options: ModelOptions) -> Model

    public static let builders: [String: Builder] = {
        var r: [String: Builder] = ["cnn5": CNN5.make, "resnet18": ResNet18.make, "mobilenetv2": MobileNetV2.make,
                                       "torchvision_mobilenet_v2": TorchvisionMobileNetV2.make]
        for depth in [8, 14, 20, 32, 56, 110] {
            r["resnet\(depth)"] = { CIFARResNet.make(name: "resnet\(depth)", depth: depth, widths: [16, 16, 32, 64], $0, $1, $2) }
        }
        for depth in [8, 32] {
            r["resnet\(depth)x4"] = { CIFARResNet.make(name: "resnet\(depth)x4", depth: depth, widths: [32, 64, 128, 256], $0, $1, $2) }
        }
        for (name, cfg) in VGG.configurations { r[name] = { VGG.make(name: name, cfg, $0, $1, $2) } }
        for c in TorchvisionResNet.configurations {
            r[c.name] = { TorchvisionResNet.make(name: c.name, block: c.block, blocks: c.blocks, $0, $1, $2) }
        }
        return r
    }()

    public static var names: [String] { builders.keys.sorted() }

    /// Builds `name` for images of `inputShape` [C, H, W]; unknown names are an error listing the known ones.
    public static func make(_ name: String, inputShape: [Int], numClasses: Int, options: ModelOptions = ModelOptions()) throws -> Model {
        guard let b = builders[name] else {
            throw KDError("unknown model '\(name)'; known models: \(names.joined(separator: ", "))")
        }
        return b(inputShape, numClasses, options)
    }
}
