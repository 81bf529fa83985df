import Engine
/// One decoded image: 8-bit RGB, interleaved, rows top to bottom ([height, width, 3]), as PIL's
/// `Image.convert("RGB")` holds it.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// height x width x 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The planes of this image in the dataset's layout [channels, height, width]: R, G, B for
    /// 3 channels, or PIL's `convert("L")` luma for 1, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
    /// (ITU-R 601-2 in 16-bit fixed point, exact on grey input).
    public func planes(channels: Int) -> [UInt8] {
        precondition(channels == 1 || channels == 3)
        let plane = width * height
        var out = [UInt8](repeating: 0, count: channels * plane)
        pixels.withUnsafeBufferPointer { px in
            for i in 0..<plane {
                let r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2]
                if channels == 3 {
                    out[i] = r; out[plane + i] = g; out[2 * plane + i] = b
                } else {
                    let luma: UInt32 = 19595 &* UInt32(r) &+ 38470 &* UInt32(g) &+ 7471 &* UInt32(b) &+ 0x8000
                    out[i] = UInt8(truncatingIfNeeded: luma >> 16)
                }
            }
        }
        return out
    }

    /// The image of dataset planes [channels, height, width] (1 channel is repeated into R, G, B).
    public init(planes: [UInt8], channels: Int, height: Int, width: Int) {
        precondition(planes.count == channels * height * width && (channels == 1 || channels == 3))
        let plane = width * height
        var px = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { px[3 * i + c] = planes[(channels == 3 ? c : 0) * plane + i] }
        }
        self.init(width: width, height: height, pixels: px)
    }
}
