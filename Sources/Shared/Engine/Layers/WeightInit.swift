/// Weight initialisations of the reference PyTorch model definitions.
public enum WeightInit: Equatable, Sendable {
    /// PyTorch's default for Conv2d and Linear, `kaiming_uniform_(a=sqrt(5))`:
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    case pytorchDefault
    /// `kaiming_normal_(mode='fan_out', nonlinearity='relu')`: N(0, 2/fan_out), as the CIFAR ResNets.
    case kaimingNormalFanOut
    /// `kaiming_normal_(mode='fan_in', nonlinearity='relu')`: N(0, 2/fan_in).
    case kaimingNormalFanIn
    /// N(0, std^2), e.g. `normal_(0, 0.01)` for classifier layers.
    case normal(std: Double)
    case constant(Float)

    /// `count` values for a weight with the given fans.
    public func values(count: Int, fanIn: Int, fanOut: Int, rng: inout SeededRNG) -> [Float] {
        switch self {
        case .pytorchDefault:
            let bound = 1 / Double(fanIn).squareRoot()
            return (0..<count).map { _ in Float((rng.unitDouble() * 2 - 1) * bound) }
        case .kaimingNormalFanOut:
            let std = (2 / Double(fanOut)).squareRoot()
            return (0..<count).map { _ in Float(rng.normal() * std) }
        case .kaimingNormalFanIn:
            let std = (2 / Double(fanIn)).squareRoot()
            return (0..<count).map { _ in Float(rng.normal() * std) }
        case .normal(let std):
            return (0..<count).map { _ in Float(rng.normal() * std) }
        case .constant(let c):
            return [Float](repeating: c, count: count)
        }
    }

}

/// What layers need while a model is built: the parameter store and a seeded generator.
public final class ModelBuilder {
    public let store = ParameterStore()
    public var rng: SeededRNG

    public init(seed: UInt64) { rng = SeededRNG(seed: seed, stream: 0x1417) }
}
