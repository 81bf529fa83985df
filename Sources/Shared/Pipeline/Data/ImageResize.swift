import Engine
/// Bilinear resizing with antialiasing, bit for bit as Pillow's `Image.resize(size, BILINEAR)`,
/// which is what torchvision's `Resize` does to PIL images: a triangle filter widened by the
/// scale factor when shrinking, weights in 22-bit fixed point, a horizontal pass into an 8-bit
/// image, then a vertical pass (Pillow's `Resample.c`). A pass whose size does not change is
/// skipped.
public enum ImageResize {
    public static func bilinear(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0)
        var out = image
        if width != image.width {
            out = pass(out, outSize: width, horizontal: true)
        }
        if height != image.height {
            out = pass(out, outSize: height, horizontal: false)
        }
        return out
    }

    /// torchvision's `Resize(size)` then `CenterCrop(size)` on a PIL image: the shorter side
    /// to `size` and the longer to int(size * long / short), bilinear as `bilinear`, then the
    /// centre square (top-left corner at round((side - size) / 2), half to even as Python).
    public static func shorterSideThenCenter(_ image: RGBImage, size: Int) -> RGBImage {
        let short = min(image.width, image.height), long = max(image.width, image.height)
        let newLong = Int(Double(size) * Double(long) / Double(short))
        let (w, h) = image.width <= image.height ? (size, newLong) : (newLong, size)
        let resized = (w, h) == (image.width, image.height) ? image : bilinear(image, width: w, height: h)
        let top = Int((Double(h - size) / 2).rounded(.toNearestOrEven)), left = Int((Double(w - size) / 2).rounded(.toNearestOrEven))
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            let from = ((top + y) * w + left) * 3
            pixels.replaceSubrange((y * size * 3)..<((y + 1) * size * 3), with: resized.pixels[from..<(from + size * 3)])
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    private static let precisionBits = 32 - 8 - 2

    /// Each output position's first input index and fixed-point weights (Pillow's
    /// `precompute_coeffs` followed by `normalize_coeffs_8bpc`).
    static func coefficients(inSize: Int, outSize: Int) -> [(first: Int, weights: [Int32])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale  // the bilinear filter's support is 1
        return (0..<outSize).map { xx in
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            // C's (int) truncates toward zero.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = (0..<xmax).map { x -> Double in
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                return t < 1 ? 1 - t : 0
            }
            let total = k.reduce(0, +)
            if total != 0 { k = k.map { $0 / total } }
            let unit = Double(1 << precisionBits)
            let fixed = k.map { w -> Int32 in Int32(w < 0 ? (-0.5 + w * unit).rounded(.towardZero) : (0.5 + w * unit).rounded(.towardZero)) }
            return (xmin, fixed)
        }
    }

    private static func pass(_ image: RGBImage, outSize: Int, horizontal: Bool) -> RGBImage {
        let inSize = horizontal ? image.width : image.height
        let coeffs = coefficients(inSize: inSize, outSize: outSize)
        let outW = horizontal ? outSize : image.width, outH = horizontal ? image.height : outSize
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        let half = Int32(1) << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        let (first, weights) = coeffs[horizontal ? x : y]
                        for c in 0..<3 {
                            var acc = half
                            for (i, w) in weights.enumerated() {
                                let index = horizontal ? (y * image.width + first + i) : ((first + i) * image.width + x)
                                acc &+= Int32(src[3 * index + c]) &* w
                            }
                            dst[3 * (y * outW + x) + c] = UInt8(clamping: acc >> Int32(precisionBits))
                        }
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
