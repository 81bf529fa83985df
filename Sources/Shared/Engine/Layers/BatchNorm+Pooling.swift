/// Training a batch norm (with its fused ReLU, if any) together with the 2x2 max pooling after
/// it, in the engine's own passes (`NormPool2x2`): what `Sequential` runs for cnn5's and
/// VGG's conv-BN-ReLU-pool blocks. Evaluation, SyncBatchNorm and other poolings run the two
/// layers apart, as does `KD_NATIVE_KERNELS=0`.
///
/// The statistics are computed as the unfused layer's: the batch's mean and biased variance
/// per channel (summed about one sample of each channel, in Double), the running statistics
/// updated with the unbiased variance.
extension BatchNorm: MaxPoolFusing {
    /// The buffers of one input layout: what the backward pass needs from the forward.
    final class FusedPooling {
        let kernels: NormPool2x2
        let input: MemoryDesc, output: MemoryDesc
        /// Per pooled element: the winning window position (4: cut by the ReLU) and its input.
        var code: [Float], winner: [Float]
        var pooled: Tensor?
        var savedInput: Tensor?
        /// Per channel (padded to whole blocks): the batch mean and 1 / sqrt(var + eps).
        var mean: [Float], inverseSigma: [Double]

        init(_ kernels: NormPool2x2, input: MemoryDesc) {
            self.kernels = kernels
            self.input = input
            let d = input.dims
            output = MemoryDesc([d[0], d[1], kernels.pool.outHeight, kernels.pool.outWidth], kernels.pool.layout)
            code = [Float](repeating: 0, count: kernels.pooledCount)
            winner = code
            mean = [Float](repeating: 0, count: kernels.paddedChannels)
            inverseSigma = [Double](repeating: 0, count: kernels.paddedChannels)
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
        let k = p.kernels
        let padded = k.paddedChannels
        // Sums about each channel's first value, which keeps them small (no cancellation when
        // the mean is large against the spread).
        var shift = [Float](repeating: 0, count: padded)
        for c in 0..<channels { shift[c] = x.floats[k.firstOffset(channel: c)] }
        let (sums, squares) = k.shiftedSums(x.floats, shift: shift)
        let m = Double(k.samplesPerChannel)
        let gamma = store.value(weight), beta = store.value(bias)
        var scale = [Float](repeating: 0, count: padded), offset = scale
        for c in 0..<channels {
            let s = sums[c] / m
            let mu = Double(shift[c]) + s, v = max(squares[c] / m - s * s, 0)
            let inverse = 1 / (v + Double(epsilon)).squareRoot()
            mean.floats[c] = Float(mu)
            variance.floats[c] = Float(v)
            p.mean[c] = Float(mu)
            p.inverseSigma[c] = inverse
            scale[c] = Float(Double(gamma[c]) * inverse)
            offset[c] = Float(Double(beta[c]) - mu * Double(gamma[c]) * inverse)
        }
        updateRunningStatistics(samplesPerChannel: k.samplesPerChannel)
        let out = reuse(&p.pooled, p.output)
        p.code.withUnsafeMutableBufferPointer { code in
            p.winner.withUnsafeMutableBufferPointer { winner in
                k.forward(x.floats, scale: scale, shift: offset, relu: fusedReLU, out.floats,
                          code: code.baseAddress!, winner: winner.baseAddress!)
            }
        }
        p.savedInput = x
        pooling = p
        return (out, true)
    }

    func backwardThroughPool(_ dy: Tensor) -> Tensor {
        guard let p = pooling, let x = p.savedInput else { fatalError("BatchNorm.backwardThroughPool without a fused training forward") }
        precondition(dy.desc == p.output, "BatchNorm.backwardThroughPool: gradient layout differs from the pooled output's")
        let k = p.kernels
        let (sums, products) = p.code.withUnsafeBufferPointer { code in
            p.winner.withUnsafeBufferPointer { winner in
                k.gradientSums(dy.floats, code: code.baseAddress!, winner: winner.baseAddress!, mean: p.mean)
            }
        }
        let m = Double(k.samplesPerChannel)
        let gamma = store.value(weight)
        let gammaGrad = store.grad(weight), betaGrad = store.grad(bias)
        var a = [Float](repeating: 0, count: k.paddedChannels), b = a, c = a
        for ch in 0..<channels {
            let inverse = p.inverseSigma[ch]
            let s1 = sums[ch], s2 = products[ch] * inverse  // sum of g, sum of g * xhat
            gammaGrad[ch] += Float(s2)
            betaGrad[ch] += Float(s1)
            let c1 = Double(gamma[ch]) * inverse
            let a1 = -c1 * s2 / m * inverse
            a[ch] = Float(a1)
            b[ch] = Float(-c1 * s1 / m - a1 * Double(p.mean[ch]))
            c[ch] = Float(c1)
        }
        let dx = Tensor(pooled: p.input)
        p.code.withUnsafeBufferPointer { code in
            k.inputGradient(x.floats, dy.floats, code: code.baseAddress!, a: a, b: b, c: c, dx.floats)
        }
        return dx
    }
}
