extension Reference {
    /// Max pooling (padding counts as -infinity) of x [N, C, H, W]; returns y and, for each
    /// output, the flat index of the chosen input (the first maximum in scan order).
    public static func maxPoolForward<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], _ win: Window) -> (y: [T], argmax: [Int]) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (win.outputSize(h), win.outputSize(w))
        var y = [T](), arg = [Int]()
        for p in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            var best = -T.infinity, at = -1
            for ky in 0..<win.kernel { for kx in 0..<win.kernel {
                let yy = i * win.stride + ky - win.padding, xx = j * win.stride + kx - win.padding
                guard yy >= 0 && yy < h && xx >= 0 && xx < w else { continue }
                let k = (p * h + yy) * w + xx
                if x[k] > best { best = x[k]; at = k }
            } }
            y.append(best); arg.append(at)
        } } }
        return (y, arg)
    }

    public static func maxPoolBackward<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], _ win: Window, _ dy: [T]) -> [T] {
        var dx = [T](repeating: 0, count: x.count)
        for (o, k) in maxPoolForward(x, shape, win).argmax.enumerated() { dx[k] += dy[o] }
        return dx
    }

    /// Average pooling that divides by the full window (PyTorch's count_include_pad=True).
    public static func avgPoolForward<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], _ win: Window) -> [T] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (win.outputSize(h), win.outputSize(w))
        let area = T(win.kernel * win.kernel)
        var y = [T]()
        for p in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            var s: T = 0
            for ky in 0..<win.kernel { for kx in 0..<win.kernel {
                let yy = i * win.stride + ky - win.padding, xx = j * win.stride + kx - win.padding
                if yy >= 0 && yy < h && xx >= 0 && xx < w { s += x[(p * h + yy) * w + xx] }
            } }
            y.append(s / area)
        } } }
        return y
    }

    public static func avgPoolBackward<T: BinaryFloatingPoint>(_ shape: [Int], _ win: Window, _ dy: [T]) -> [T] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (win.outputSize(h), win.outputSize(w))
        let area = T(win.kernel * win.kernel)
        var dx = [T](repeating: 0, count: n * c * h * w)
        for p in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            let g = dy[(p * oh + i) * ow + j] / area
            for ky in 0..<win.kernel { for kx in 0..<win.kernel {
                let yy = i * win.stride + ky - win.padding, xx = j * win.stride + kx - win.padding
                if yy >= 0 && yy < h && xx >= 0 && xx < w { dx[(p * h + yy) * w + xx] += g }
            } }
        } } }
        return dx
    }

    /// y = x W^T + b; x [N, in], W [out, in].
    public static func linearForward<T: BinaryFloatingPoint>(_ x: [T], batch n: Int, _ w: [T], out: Int, bias b: [T]) -> [T] {
        let inF = x.count / n
        var y = [T](repeating: 0, count: n * out)
        for i in 0..<n { for o in 0..<out {
            var s: T = b.isEmpty ? 0 : b[o]
            for k in 0..<inF { s += x[i * inF + k] * w[o * inF + k] }
            y[i * out + o] = s
        } }
        return y
    }

    public static func linearBackward<T: BinaryFloatingPoint>(_ x: [T], batch n: Int, _ w: [T], out: Int, _ dy: [T]) -> (dx: [T], dw: [T], db: [T]) {
        let inF = x.count / n
        var dx = [T](repeating: 0, count: x.count), dw = [T](repeating: 0, count: w.count), db = [T](repeating: 0, count: out)
        for i in 0..<n { for o in 0..<out {
            let g = dy[i * out + o]
            db[o] += g
            for k in 0..<inF { dx[i * inF + k] += g * w[o * inF + k]; dw[o * inF + k] += g * x[i * inF + k] }
        } }
        return (dx, dw, db)
    }
}
