import CPNG
import CTurboJPEG
import Engine
import Foundation

/// Decodes image files into 8-bit RGB as torchvision's default loader does
/// (`PIL.Image.open(path).convert("RGB")`): JPEG with libjpeg-turbo, PNG with libpng, BMP, PPM
/// and PGM with TurboJPEG's `tjLoadImage`. Grey images are repeated into the three channels; an
/// alpha channel is dropped, not composited. Every failure is a `KDError` naming the file.
///
/// Known differences from PIL: 16-bit PNGs and PNGs with a gAMA chunk other than sRGB's go
/// through libpng's simplified API, which converts them to 8-bit sRGB with gamma; CMYK JPEGs are
/// refused.
public enum ImageDecoder {
    /// The extensions torchvision's ImageFolder accepts that this decoder reads (lower case;
    /// matched case-insensitively).
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm"]

    public static func decode(_ path: String) throws -> RGBImage {
        switch (path as NSString).pathExtension.lowercased() {
        case "jpg", "jpeg": return try decodeJPEG(try bytes(path), path: path)
        case "png": return try decodePNG(try bytes(path), path: path)
        case "ppm", "pgm", "bmp": return try loadWithTurboJPEG(path)
        default: throw KDError(file: path, "not an image this tool reads (extensions: \(extensions.sorted().joined(separator: ", ")))")
        }
    }

    private static func bytes(_ path: String) throws -> [UInt8] {
        let data = try FileBytes.read(path)
        guard !data.isEmpty else { throw KDError(file: path, "empty file") }
        return data
    }

    static func decodeJPEG(_ data: [UInt8], path: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else { throw KDError(file: path, "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> KDError {
            KDError(file: path, "not a readable JPEG (\(what): \(String(cString: tjGetErrorStr2(handle))))")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, data, UInt(data.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw failure("header")
        }
        guard colorspace != Int32(TJCS_CMYK.rawValue), colorspace != Int32(TJCS_YCCK.rawValue) else {
            throw KDError(file: path, "CMYK JPEGs are not supported; convert the image to RGB")
        }
        try checkSize(Int(width), Int(height), path: path)
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        let status = pixels.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, data, UInt(data.count), $0.baseAddress, width, 0, height, Int32(TJPF_RGB.rawValue), 0)
        }
        // A warning (a truncated but decodable file, say) still decodes, as PIL's loader would not:
        // PIL raises on truncated JPEGs, so this does too.
        guard status == 0 else { throw failure("data") }
        return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    static func decodePNG(_ data: [UInt8], path: String) throws -> RGBImage {
        var image = png_image()
        cpng_image_init(&image)
        defer { png_image_free(&image) }
        func failure() -> KDError {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return KDError(file: path, "not a readable PNG (libpng: \(message))")
        }
        guard png_image_begin_read_from_memory(&image, data, data.count) != 0 else { throw failure() }
        try checkSize(Int(image.width), Int(image.height), path: path)
        // Read with alpha and drop it, as PIL's convert("RGB") does, instead of letting libpng
        // composite onto black.
        image.format = cpng_format_rgb() | UInt32(PNG_FORMAT_FLAG_ALPHA)
        let width = Int(image.width), height = Int(image.height)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0, cpng_image_failed(&image) == 0 else { throw failure() }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            rgb[3 * i] = rgba[4 * i]; rgb[3 * i + 1] = rgba[4 * i + 1]; rgb[3 * i + 2] = rgba[4 * i + 2]
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    static func loadWithTurboJPEG(_ path: String) throws -> RGBImage {
        guard FileManager.default.isReadableFile(atPath: path) else { throw FileBytes.unreadable(path) }
        var width: Int32 = 0, height: Int32 = 0, format = Int32(TJPF_RGB.rawValue)
        guard let buffer = tjLoadImage(path, &width, 1, &height, &format, 0) else {
            throw KDError(file: path, "not a readable \((path as NSString).pathExtension.uppercased()) image (\(String(cString: tjGetErrorStr2(nil))))")
        }
        defer { tjFree(buffer) }
        try checkSize(Int(width), Int(height), path: path)
        let pixels = Array(UnsafeBufferPointer(start: buffer, count: Int(width) * Int(height) * 3))
        return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    private static func checkSize(_ width: Int, _ height: Int, path: String) throws {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw KDError(file: path, "implausible image size \(width)x\(height)")
        }
    }
}
