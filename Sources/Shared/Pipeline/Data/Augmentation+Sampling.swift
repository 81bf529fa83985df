#if canImport(Glibc)
import Glibc
#endif

/// Producing a view's pixels: crop (with padding) and flip by index arithmetic, then the
/// rotation as torchvision 0.14 computes it on uint8 tensors (`F.rotate` with `fill=0`: an
/// affine grid in float32, `grid_sample` with `align_corners=False`, rounded back to bytes).
extension Augmentation {
    /// The output [height, width] for images of `height` x `width`: the crop's square, or the
    /// image's own shape (images are square wherever a crop size is set).
    public func outputShape(_ height: Int, _ width: Int) -> (height: Int, width: Int) {
        cropSize.map { ($0, $0) } ?? (height, width)
    }

    /// Writes view `v` of one image (`channels` planes of `height` x `width` bytes) into `dst`
    /// as `outputShape` planes, each pixel p as p * scale[c] + shift[c]. `mode` fills outside
    /// the image: the augmentation's own for training views, zeros for `centerView`.
    func render(_ image: UnsafePointer<UInt8>, channels: Int, height: Int, width: Int, view v: View, mode: PaddingMode,
                scale: [Float], shift: [Float], into dst: UnsafeMutablePointer<Float>) {
        let (oh, ow) = outputShape(height, width)
        let inPlane = height * width, plane = oh * ow
        // torchvision pads twice when pad_if_needed adds to `padding`: the second pad mirrors
        // the first's result, which for reflect and symmetric is not one fold of the image.
        let twice = mode == .reflect || mode == .symmetric ? padding : 0
        // Source pixel of crop position (cy, cx), after the flip; nil outside (constant mode).
        func source(_ cy: Int, _ cx: Int) -> Int? {
            let xx = v.flip ? ow &- 1 &- cx : cx
            guard let sy = Self.fold(cy &+ v.cropY &- v.padding, height, mode, firstPad: twice),
                  let sx = Self.fold(xx &+ v.cropX &- v.padding, width, mode, firstPad: twice) else { return nil }
            return sy &* width &+ sx
        }
        if v.angle == 0 {
            for y in 0..<oh {
                for x in 0..<ow {
                    let s = source(y, x)
                    for c in 0..<channels {
                        let p: UInt8 = s.map { image[c &* inPlane &+ $0] } ?? 0
                        dst[c &* plane &+ y &* ow &+ x] = Float(p) * scale[c] + shift[c]
                    }
                }
            }
            return
        }
        let taps = RotationTaps(angle: v.angle, height: oh, width: ow, interpolation: interpolation)
        for y in 0..<oh {
            for x in 0..<ow {
                let t = taps.at(y, x)
                for c in 0..<channels {
                    var value: Float = 0
                    for k in 0..<t.count {
                        if let s = source(t.y[k], t.x[k]) { value += t.weight[k] * Float(image[c &* inPlane &+ s]) }
                    }
                    let byte = (value * t.coverage).rounded(.toNearestOrEven)
                    dst[c &* plane &+ y &* ow &+ x] = byte * scale[c] + shift[c]
                }
            }
        }
    }

    /// Index `i` of a row or column of `n` pixels, folded back inside by `mode`; nil for
    /// constant padding outside. With `firstPad` p, first folded into the image padded by p
    /// (indices -p..<n+p), as a second padding of that padded image reads it.
    @inline(__always)
    static func fold(_ i: Int, _ n: Int, _ mode: PaddingMode, firstPad p: Int = 0) -> Int? {
        if i >= 0 && i < n { return i }
        if p > 0, i < -p || i >= n + p { return fold(i + p, n + 2 * p, mode).flatMap { fold($0 - p, n, mode) } }
        switch mode {
        case .constant: return nil
        case .edge: return min(max(i, 0), n - 1)
        case .reflect:
            guard n > 1 else { return 0 }
            let period = 2 * (n - 1), m = ((i % period) + period) % period
            return m < n ? m : period - m
        case .symmetric:
            let period = 2 * n, m = ((i % period) + period) % period
            return m < n ? m : period - 1 - m
        }
    }
}

/// Where each output pixel of a rotation reads (torchvision's inverse affine grid for a
/// rotation about the centre), with bilinear or nearest weights; taps outside the image count
/// as 0, and `coverage` is the weight inside (torchvision multiplies by it again to fill 0).
struct RotationTaps {
    let r00, r01, r10, r11: Float
    let height, width: Int
    let interpolation: Augmentation.Interpolation

    /// Up to four source pixels and their weights.
    struct Taps {
        var y = SIMD4<Int>(repeating: 0), x = SIMD4<Int>(repeating: 0)
        var weight = SIMD4<Float>(repeating: 0)
        var count = 0
        var coverage: Float = 1
    }

    init(angle: Float, height: Int, width: Int, interpolation: Augmentation.Interpolation) {
        // torchvision: matrix [cos a, -sin a, 0, sin a, cos a, 0] (a in radians, from Python
        // doubles), as float32, the x row divided by half the width, the y row by half the height.
        let a = Double(angle) * Double.pi / 180
        let halfW = Float(0.5 * Double(width)), halfH = Float(0.5 * Double(height))
        r00 = Float(cos(a)) / halfW; r01 = Float(-sin(a)) / halfW
        r10 = Float(sin(a)) / halfH; r11 = Float(cos(a)) / halfH
        self.height = height; self.width = width; self.interpolation = interpolation
    }

    func at(_ i: Int, _ j: Int) -> Taps {
        let w = Float(width), h = Float(height)
        let x = Float(j) - w * 0.5 + 0.5, y = Float(i) - h * 0.5 + 0.5
        let gx = x * r00 + y * r01, gy = x * r10 + y * r11
        let ix = ((gx + 1) * w - 1) / 2, iy = ((gy + 1) * h - 1) / 2
        var t = Taps()
        func insideY(_ v: Int) -> Bool { v >= 0 && v < height }
        func insideX(_ v: Int) -> Bool { v >= 0 && v < width }
        switch interpolation {
        case .nearest:
            let ny = Int(iy.rounded(.toNearestOrEven)), nx = Int(ix.rounded(.toNearestOrEven))
            if insideY(ny) && insideX(nx) { t.y[0] = ny; t.x[0] = nx; t.weight[0] = 1; t.count = 1 }
        case .bilinear:
            // grid_sample's weights, each from the corner opposite, summed north-west first.
            let x0 = Int(ix.rounded(.down)), y0 = Int(iy.rounded(.down))
            let (xa, xb) = (Float(x0 + 1) - ix, ix - Float(x0)), (ya, yb) = (Float(y0 + 1) - iy, iy - Float(y0))
            let corners = [(y0, x0, xa * ya), (y0, x0 + 1, xb * ya), (y0 + 1, x0, xa * yb), (y0 + 1, x0 + 1, xb * yb)]
            var covered: Float = 0
            for (yy, xx, w) in corners where insideY(yy) && insideX(xx) {
                t.y[t.count] = yy; t.x[t.count] = xx; t.weight[t.count] = w
                t.count += 1
                covered += w
            }
            t.coverage = covered
        }
        return t
    }
}
