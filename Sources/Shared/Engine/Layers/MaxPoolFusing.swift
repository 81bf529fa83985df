/// A layer whose training pass can run together with a 2x2 max pooling after it: a batch norm,
/// or a convolution + batch norm. `Sequential` asks, and routes the backward pass accordingly.
protocol MaxPoolFusing: Layer {
    /// This layer's training forward and then `pool`'s: fused where the engine has the kernels
    /// (`fused` true: `backwardThroughPool` then takes the pooled output's gradient), else the
    /// two layers' own passes (and their own backward passes).
    func forwardTraining(_ x: Tensor, thenPool pool: Pool2d) -> (output: Tensor, fused: Bool)

    /// dL/d(input) from dL/d(pooled output), after a fused `forwardTraining`.
    func backwardThroughPool(_ dy: Tensor) -> Tensor
}

extension ConvBN: MaxPoolFusing {
    func forwardTraining(_ x: Tensor, thenPool pool: Pool2d) -> (output: Tensor, fused: Bool) {
        norm.forwardTraining(conv.forward(x, mode: .train), thenPool: pool)
    }

    func backwardThroughPool(_ dy: Tensor) -> Tensor { conv.backward(norm.backwardThroughPool(dy)) }
}
