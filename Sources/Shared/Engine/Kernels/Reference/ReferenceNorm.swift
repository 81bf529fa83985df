extension Reference {
    /// Per-channel view of an [N, C, ...] tensor: (N, C, elements per channel per sample).
    static func channelGeometry(_ shape: [Int]) -> (n: Int, c: Int, inner: Int) {
        (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
    }

    /// Training-mode batch norm: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch's
    /// mean and biased variance per channel. Returns y, mean and the biased variance.
    public static func batchNormForward<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], gamma: [T], beta: [T],
                                                                epsilon: T) -> (y: [T], mean: [T], variance: [T]) {
        let (n, c, inner) = channelGeometry(shape)
        let m = T(n * inner)
        var mean = [T](repeating: 0, count: c), variance = [T](repeating: 0, count: c)
        var y = [T](repeating: 0, count: x.count)
        for ch in 0..<c {
            var s: T = 0
            for i in 0..<n { for j in 0..<inner { s += x[(i * c + ch) * inner + j] } }
            let mu = s / m
            var v: T = 0
            for i in 0..<n { for j in 0..<inner { let d = x[(i * c + ch) * inner + j] - mu; v += d * d } }
            v /= m
            mean[ch] = mu; variance[ch] = v
            let inv = 1 / (v + epsilon).squareRoot()
            for i in 0..<n { for j in 0..<inner {
                let k = (i * c + ch) * inner + j
                y[k] = gamma[ch] * (x[k] - mu) * inv + beta[ch]
            } }
        }
        return (y, mean, variance)
    }

    /// Evaluation-mode batch norm with given statistics.
    public static func batchNormInference<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], gamma: [T], beta: [T],
                                                                  mean: [T], variance: [T], epsilon: T) -> [T] {
        let (_, c, inner) = channelGeometry(shape)
        return x.indices.map { k in
            let ch = (k / inner) % c
            return gamma[ch] * (x[k] - mean[ch]) / (variance[ch] + epsilon).squareRoot() + beta[ch]
        }
    }

    /// Gradients of training-mode batch norm: (dx, dgamma, dbeta).
    public static func batchNormBackward<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], gamma: [T], _ dy: [T],
                                                                 epsilon: T) -> (dx: [T], dgamma: [T], dbeta: [T]) {
        let (n, c, inner) = channelGeometry(shape)
        let stats = batchNormForward(x, shape, gamma: gamma, beta: [T](repeating: 0, count: c), epsilon: epsilon)
        let m = T(n * inner)
        var dx = [T](repeating: 0, count: x.count)
        var dgamma = [T](repeating: 0, count: c), dbeta = [T](repeating: 0, count: c)
        for ch in 0..<c {
            let inv = 1 / (stats.variance[ch] + epsilon).squareRoot()
            var sumDy: T = 0, sumDyXhat: T = 0
            for i in 0..<n { for j in 0..<inner {
                let k = (i * c + ch) * inner + j
                let xhat = (x[k] - stats.mean[ch]) * inv
                sumDy += dy[k]; sumDyXhat += dy[k] * xhat
            } }
            dgamma[ch] = sumDyXhat; dbeta[ch] = sumDy
            for i in 0..<n { for j in 0..<inner {
                let k = (i * c + ch) * inner + j
                let xhat = (x[k] - stats.mean[ch]) * inv
                dx[k] = gamma[ch] * inv * (dy[k] - sumDy / m - xhat * sumDyXhat / m)
            } }
        }
        return (dx, dgamma, dbeta)
    }

    public static func reluForward<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { x.map { max($0, 0) } }
    public static func reluBackward<T: BinaryFloatingPoint>(_ x: [T], _ dy: [T]) -> [T] { zip(x, dy).map { $0 > 0 ? $1 : 0 } }
    /// PyTorch's `relu6` (`hardtanh(x, 0, 6)`) and its gradient: 1 strictly inside (0, 6).
    public static func relu6Forward<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { x.map { min(max($0, 0), 6) } }
    public static func relu6Backward<T: BinaryFloatingPoint>(_ x: [T], _ dy: [T]) -> [T] { zip(x, dy).map { $0 > 0 && $0 < 6 ? $1 : 0 } }
    /// PyTorch's `leaky_relu(x, slope)` and its gradient.
    public static func leakyReLUForward<T: BinaryFloatingPoint>(_ x: [T], slope: T) -> [T] { x.map { $0 > 0 ? $0 : slope * $0 } }
    public static func leakyReLUBackward<T: BinaryFloatingPoint>(_ x: [T], _ dy: [T], slope: T) -> [T] { zip(x, dy).map { $0 > 0 ? $1 : slope * $1 } }
}
