/// Training or evaluation behaviour (BatchNorm statistics, dropout).
public enum Mode: Sendable { case train, eval }

/// A differentiable layer with explicit forward and backward passes (no autodiff).
///
/// `forward` computes the output and, in `.train` mode, keeps what `backward` needs.
/// `backward` takes dL/d(output), *adds* dL/d(parameters) into the store's gradient arena and
/// returns dL/d(input) in the input's layout. Outputs, gradients and layout copies come from
/// the tensor pool (`StoragePool`) and go back to it when nobody holds them: in training a layer
/// keeps only what its backward reads (its input, or its output), and backward lets it go, so
/// that gradients reuse the memory of the activations backward has finished with. An output
/// no backward reads (a shortcut's batch norm, once summed) goes back at once, as in PyTorch.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor, mode: Mode) -> Tensor
    func backward(_ dy: Tensor) -> Tensor
    /// False for a first layer: its input gradient is never used, so it is not computed
    /// (`backward` then returns its argument unchanged).
    var computesInputGradient: Bool { get set }
    /// Whether `backward` reads the output `forward` returned. When it does not, whoever
    /// consumes the output may overwrite it (a residual sum, written in place).
    var backwardReadsOutput: Bool { get }
}

extension Layer {
    /// Assumed unless a layer says otherwise.
    public var backwardReadsOutput: Bool { true }
}
