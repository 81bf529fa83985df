import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Image decoding and resizing against Pillow, which torchvision's ImageFolder loader and
/// `Resize` use: Tests/Fixtures/images holds one file per format, images.h5 what Pillow decoded
/// and resized (`make fixtures`).
final class ImageDecodingTests: XCTestCase {
    static let folder = TestSupport.fixtures + "/images"

    private func pillow(_ name: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let (values, shape) = try HDF5File.open(TestSupport.fixtures + "/images.h5").read(name, as: UInt8.self)
        return (values, shape[1], shape[0])
    }

    /// Exact equality, or the first differing byte (row, column, channel) and how many differ.
    private func assertSame(_ ours: [UInt8], _ reference: [UInt8], width: Int, channels: Int, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, reference.count, what, file: file, line: line)
        let diffs = zip(ours, reference).enumerated().filter { $0.element.0 != $0.element.1 }
        if let (i, (a, b)) = diffs.first {
            let pixel = i / channels
            XCTFail("\(what): \(diffs.count) bytes differ; first at row \(pixel / width), column \(pixel % width), channel \(i % channels): \(a), Pillow \(b)",
                    file: file, line: line)
        }
    }

    private var files: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: Self.folder).sorted()) ?? []
    }

    func testDecodingEqualsPillow() throws {
        XCTAssertEqual(files.count, 8)
        for name in files {
            let image = try ImageDecoder.decode(Self.folder + "/" + name)
            let ref = try pillow("decoded/" + name)
            XCTAssertEqual([image.width, image.height], [ref.width, ref.height], name)
            assertSame(image.pixels, ref.pixels, width: ref.width, channels: 3, "decoding \(name)")
        }
    }

    func testBilinearResizeAndGreyEqualPillow() throws {
        for name in files {
            let image = try ImageDecoder.decode(Self.folder + "/" + name)
            for (w, h) in [(16, 16), (57, 45), (24, 50), (40, 7)] {
                let resized = ImageResize.bilinear(image, width: w, height: h)
                let ref = try pillow("resized/\(name)/\(w)x\(h)")
                assertSame(resized.pixels, ref.pixels, width: w, channels: 3, "\(name) resized to \(w)x\(h)")
                let grey = try pillow("grey/\(name)/\(w)x\(h)")
                assertSame(resized.planes(channels: 1), grey.pixels, width: w, channels: 1, "\(name) resized to \(w)x\(h), grey")
            }
        }
    }

    /// What the tests' image folders are made of: PNG is lossless; a JPEG at quality 100 with
    /// 4:4:4 chroma comes back within a few levels.
    func testEncodersRoundTrip() throws {
        let dir = try TestSupport.temporaryFolder(self)
        var rng = SeededRNG(seed: 3)
        let image = RGBImage(width: 13, height: 9, pixels: (0..<(13 * 9 * 3)).map { i in UInt8(truncatingIfNeeded: i * 2 + Int(rng.below(8))) })
        try ImageEncoder.writePNG(image, to: dir + "/a.png")
        XCTAssertEqual(try ImageDecoder.decode(dir + "/a.png"), image)
        try ImageEncoder.writePNG(image, to: dir + "/g.png", grey: true)
        let grey = try ImageDecoder.decode(dir + "/g.png")
        XCTAssertEqual(grey.planes(channels: 1), stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] })
        let smooth = RGBImage(width: 16, height: 16, pixels: (0..<(16 * 16 * 3)).map { (i: Int) -> UInt8 in
            let x = (i / 3) % 16, channel = i % 3
            return UInt8(x * 8 + channel * 40)
        })
        try ImageEncoder.writeJPEG(smooth, to: dir + "/b.jpg", quality: 100)
        let back = try ImageDecoder.decode(dir + "/b.jpg")
        let worst = zip(back.pixels, smooth.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 4, "JPEG quality 100 round trip")
    }

    /// Truncated, garbage, empty and unsupported files: one-line errors naming the file.
    func testBadFilesAreErrorsNamingTheFile() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/rgb.jpg"))
        let png = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/rgba.png"))
        let cases: [(String, Data, String)] = [
            ("truncated.jpg", jpeg.prefix(jpeg.count / 2), "JPEG"),
            ("garbage.jpg", Data("not an image at all".utf8), "JPEG"),
            ("truncated.png", png.prefix(png.count / 2), "PNG"),
            ("garbage.png", Data(repeating: 7, count: 100), "PNG"),
            ("empty.png", Data(), "empty"),
            ("garbage.bmp", Data("BM nonsense".utf8), "BMP"),
            ("photo.webp", Data("RIFF....WEBP".utf8), "not an image this tool reads"),
        ]
        for (name, bytes, expected) in cases {
            let path = dir + "/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ImageDecoder.decode(path), name) { error in
                let message = "\(error)"
                XCTAssert(message.contains(path), "\(name): \(message)")
                XCTAssert(message.contains(expected), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n"), "\(name): \(message)")
            }
        }
    }
}
