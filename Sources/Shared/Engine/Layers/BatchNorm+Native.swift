internal import CDNNL

/// Training a batch norm (with its fused ReLU, if any) in the engine's own passes
/// (`NormPasses`) on nChw8c, the layout oneDNN picks below AVX-512, in place of oneDNN's:
/// evaluation, SyncBatchNorm, frozen norms, other layouts and `KD_NATIVE_KERNELS=0` run
/// oneDNN's. Measured on 2 Zen 5 cores capped to AVX2 (training, 3-5 interleaved rounds):
/// resnet20 on 1x28x28 1.13-1.18x, resnet56 1.10-1.23x, mobilenetv2, vgg13 and resnet32x4
/// unchanged. On nChw16c oneDNN's AVX-512 batch norm is the faster (mobilenetv2 0.88x with
/// these passes), so it keeps that layout.
///
/// The statistics are those of oneDNN's path and of PyTorch: the batch's mean and biased
/// variance per channel (summed about one sample of each channel, in Double), the running
/// statistics updated with the unbiased variance.
extension BatchNorm {
    /// The batch's statistics as the passes use them, per channel padded to whole blocks.
    struct BatchStatistics {
        var mean: [Float], inverseSigma: [Double]
        /// The forward map y = scale * x + shift.
        var scale: [Float], shift: [Float]
    }

    /// The passes for one input layout and what backward needs from forward.
    final class NativeTraining {
        let passes: NormPasses
        let input: MemoryDesc
        var statistics: BatchStatistics?
        var savedInput: Tensor?
        init(_ passes: NormPasses, input: MemoryDesc) { self.passes = passes; self.input = input }
    }

    /// Whether training runs the engine's passes where they apply (`KD_NATIVE_KERNELS=0`: never).
    public static var trainsNatively: Bool { NativeKernels.allowed }

    /// Whether the last training forward ran the engine's own passes.
    public var trainedNatively: Bool { native != nil }

    /// The passes for input `x`, or nil where oneDNN's training runs instead.
    func nativeTraining(_ x: MemoryDesc) -> NativeTraining? {
        guard Self.trainsNatively, synchronizer == nil, !isFrozen else { return nil }
        if let p = natives[x.dims], p.input == x { return p }
        guard let passes = NormPasses(x), passes.planes.layout == dnnl_nChw8c else { return nil }
        let p = NativeTraining(passes, input: x)
        natives[x.dims] = p
        return p
    }

    /// The batch statistics of `x`: also this layer's `mean` and `variance`, and the running
    /// statistics updated with them.
    func batchStatistics(_ x: Tensor, _ passes: NormPasses) -> BatchStatistics {
        let padded = passes.paddedChannels
        // Sums about each channel's first value, which keeps them small (no cancellation when
        // the mean is large against the spread).
        var first = [Float](repeating: 0, count: padded)
        for c in 0..<channels { first[c] = x.floats[passes.firstOffset(channel: c)] }
        let (sums, squares) = passes.shiftedSums(x.floats, shift: first)
        let m = Double(passes.samplesPerChannel)
        let gamma = store.value(weight), beta = store.value(bias)
        let zeros = [Float](repeating: 0, count: padded)
        var s = BatchStatistics(mean: zeros, inverseSigma: [Double](repeating: 0, count: padded), scale: zeros, shift: zeros)
        for c in 0..<channels {
            let d = sums[c] / m
            let mu = Double(first[c]) + d, v = max(squares[c] / m - d * d, 0)
            let inverse = 1 / (v + Double(epsilon)).squareRoot()
            mean.floats[c] = Float(mu)
            variance.floats[c] = Float(v)
            s.mean[c] = Float(mu)
            s.inverseSigma[c] = inverse
            s.scale[c] = Float(Double(gamma[c]) * inverse)
            s.shift[c] = Float(Double(beta[c]) - mu * Double(gamma[c]) * inverse)
        }
        updateRunningStatistics(samplesPerChannel: passes.samplesPerChannel)
        return s
    }

    /// dx = c * g + a * x + b per channel from the sums of g and of g * (x - mean) over the
    /// batch; adds dgamma and dbeta to the parameters' gradients.
    func gradientCoefficients(sums: [Double], products: [Double], _ s: BatchStatistics,
                              _ passes: NormPasses) -> (a: [Float], b: [Float], c: [Float]) {
        let m = Double(passes.samplesPerChannel)
        let gamma = store.value(weight)
        let gammaGrad = store.grad(weight), betaGrad = store.grad(bias)
        var a = [Float](repeating: 0, count: passes.paddedChannels), b = a, c = a
        for ch in 0..<channels {
            let inverse = s.inverseSigma[ch]
            let s1 = sums[ch], s2 = products[ch] * inverse  // sum of g, sum of g * xhat
            gammaGrad[ch] += Float(s2)
            betaGrad[ch] += Float(s1)
            let c1 = Double(gamma[ch]) * inverse
            let a1 = -c1 * s2 / m * inverse
            a[ch] = Float(a1)
            b[ch] = Float(-c1 * s1 / m - a1 * Double(s.mean[ch]))
            c[ch] = Float(c1)
        }
        return (a, b, c)
    }

    func forwardNative(_ x: Tensor, _ p: NativeTraining) -> Tensor {
        let s = batchStatistics(x, p.passes)
        let out = Tensor(pooled: x.desc)
        p.passes.normalise(x.floats, scale: s.scale, shift: s.shift, relu: fusedReLU, out.floats)
        p.statistics = s
        p.savedInput = x
        return out
    }

    func backwardNative(_ dy: Tensor, _ p: NativeTraining) -> Tensor {
        guard var x = p.savedInput.take(), let s = p.statistics else { fatalError("BatchNorm.backward without a training forward") }
        precondition(dy.desc == p.input, "BatchNorm.backward: gradient layout differs from the output's")
        let k = p.passes
        let (sums, products) = k.gradientSums(x.floats, dy.floats, scale: s.scale, shift: s.shift, relu: fusedReLU, mean: s.mean)
        let (a, b, c) = gradientCoefficients(sums: sums, products: products, s, k)
        let dx = Self.inputGradient(reusing: &x, p.input)
        k.inputGradient(x.floats, dy.floats, scale: s.scale, shift: s.shift, relu: fusedReLU, a: a, b: b, c: c, dx.floats)
        return dx
    }

    /// Where the input gradient goes: the saved input's own storage where nothing else holds
    /// it, else a pooled tensor. The passes read each element of x before they write the same
    /// element of dx, and backward is x's last use, so backward takes no buffer of the input's
    /// size here. cnn5's training peak was its first block's backward, with x, dx and the
    /// pooled gradient live at once: 110 -> 89 MiB on AVX-512, 107 -> 86 capped to AVX2
    /// (`kd-bench`, batch 128). The ResNets' peaks, in a convolution's backward, stay.
    static func inputGradient(reusing x: inout Tensor, _ desc: MemoryDesc) -> Tensor {
        isKnownUniquelyReferenced(&x) && x.ownsPooledStorage && x.desc == desc ? x : Tensor(pooled: desc)
    }
}
