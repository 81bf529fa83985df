import CPNG
import CTurboJPEG
import Engine
import Foundation

/// Writes RGB images as PNG (libpng) or JPEG (libjpeg-turbo), atomically: for making image
/// folders (the example, the tests) from datasets held in memory.
public enum ImageEncoder {
    /// Lossless 8-bit RGB PNG, or 8-bit grey when `grey` (the image's R channel).
    public static func writePNG(_ image: RGBImage, to path: String, grey: Bool = false) throws {
        var png = png_image()
        cpng_image_init(&png)
        defer { png_image_free(&png) }
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = grey ? cpng_format_gray() : cpng_format_rgb()
        let bytes = grey ? stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } : image.pixels
        try AtomicWrite.write(to: path) { tmp in
            guard png_image_write_to_file(&png, tmp, 0, bytes, 0, nil) != 0 else {
                throw KDError(file: path, "libpng could not write the image")
            }
        }
    }

    /// Baseline JPEG at `quality` (1...100), 4:4:4 chroma (no subsampling).
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 95) throws {
        guard let handle = tjInitCompress() else { throw KDError(file: path, "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = tjCompress2(handle, image.pixels, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                                 &buffer, &size, Int32(TJSAMP_444.rawValue), Int32(quality), 0)
        defer { tjFree(buffer) }
        guard status == 0, let buffer else {
            throw KDError(file: path, "TurboJPEG could not encode (\(String(cString: tjGetErrorStr2(handle))))")
        }
        try AtomicWrite.write(Data(bytes: buffer, count: Int(size)), to: path)
    }
}
