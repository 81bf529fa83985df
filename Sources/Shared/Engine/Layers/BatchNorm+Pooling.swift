/// Training a batch norm (with its fused ReLU, if any) together with the 2x2 max pooling after
/// it, in the engine's own passes (`NormPool2x2`): what `Sequential` runs for cnn5's and
/// VGG's conv-BN-ReLU-pool blocks. Evaluation, SyncBatchNorm and other poolings run the two
/// layers apart, as does `KD_NATIVE_KERNELS=0`.
///
/// The statistics are those of the unpooled layer (`BatchNorm+Native.swift`).
extension BatchNorm: MaxPoolFusing {
    /// The buffers of one input layout: what the backward pass needs from the forward.
    final class FusedPooling {
        let kernels: NormPool2x2
        let input: MemoryDesc, output: MemoryDesc
        /// Per pooled element: the winning window position (4: cut by the ReLU) and its input.
        var code: [Float], winner: [Float]
        var pooled: Tensor?
        var savedInput: Tensor?
        var statistics: BatchStatistics?

        init(_ kernels: NormPool2x2, input: MemoryDesc) {
            self.kernels = kernels
            self.input = input
            let d = input.dims
            output = MemoryDesc([d[0], d[1], kernels.pool.outHeight, kernels.pool.outWidth], kernels.pool.layout)
            code = [Float](repeating: 0, count: kernels.pooledCount)
            winner = code
        }
    }

    /// Whether training runs a batch norm and a 2x2 max pooling after it as one, on the layouts
    /// `MaxPool2x2` handles (`KD_NATIVE_KERNELS=0` turns it off).
    public static var fusesMaxPooling: Bool { NativeKernels.allowed }

    /// The fused passes for input `x` followed by `pool`, or nil where they do not apply.
    private func fusedPooling(_ x: MemoryDesc, _ pool: Pool2d) -> FusedPooling? {
        guard Self.fusesMaxPooling, synchronizer == nil, pool.isMax2x2 else { return nil }
        if let p = poolings[x.dims], p.input == x { return p }
        guard let kernels = NormPool2x2(x) else { return nil }
        let p = FusedPooling(kernels, input: x)
        poolings[x.dims] = p
        return p
    }

    func forwardTraining(_ x: Tensor, thenPool pool: Pool2d) -> (output: Tensor, fused: Bool) {
        precondition(x.shape.count == 4 && x.shape[1] == channels, "BatchNorm expects \(channels) channels, got \(x.shape)")
        guard !isFrozen, let p = fusedPooling(x.desc, pool) else {
            pooling = nil
            return (pool.forward(forward(x, mode: .train), mode: .train), false)
        }
        native = nil
        let s = batchStatistics(x, p.kernels.passes)
        let out = reuse(&p.pooled, p.output)
        p.code.withUnsafeMutableBufferPointer { code in
            p.winner.withUnsafeMutableBufferPointer { winner in
                p.kernels.forward(x.floats, scale: s.scale, shift: s.shift, relu: fusedReLU, out.floats,
                                  code: code.baseAddress!, winner: winner.baseAddress!)
            }
        }
        p.statistics = s
        p.savedInput = x
        pooling = p
        return (out, true)
    }

    func backwardThroughPool(_ dy: Tensor) -> Tensor {
        guard let p = pooling, var x = p.savedInput.take(), let s = p.statistics else {
            fatalError("BatchNorm.backwardThroughPool without a fused training forward")
        }
        precondition(dy.desc == p.output, "BatchNorm.backwardThroughPool: gradient layout differs from the pooled output's")
        let k = p.kernels
        let (sums, products) = p.code.withUnsafeBufferPointer { code in
            p.winner.withUnsafeBufferPointer { winner in
                k.gradientSums(dy.floats, code: code.baseAddress!, winner: winner.baseAddress!, mean: s.mean)
            }
        }
        let (a, b, c) = gradientCoefficients(sums: sums, products: products, s, k.passes)
        let dx = Self.inputGradient(reusing: &x, p.input)
        p.code.withUnsafeBufferPointer { code in
            k.inputGradient(x.floats, dy.floats, code: code.baseAddress!, a: a, b: b, c: c, dx.floats)
        }
        return dx
    }
}
