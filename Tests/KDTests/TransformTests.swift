import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// The food-11 and ImageNet recipes' transforms against torchvision 0.14's functional ones on
/// the same uint8 image and the same drawn parameters (Tests/Scripts/torch_transforms.py):
/// random crop with padding, `pad_if_needed` and every padding mode, the flip, rotation with
/// nearest and bilinear interpolation, and the centre crop. Crops and flips agree exactly;
/// rotations within rounding (see `testTransformsMatchTorchvision`). Views with rotations go
/// through a logits file and come back identical, so replayed inputs are the teacher's.
final class TransformTests: XCTestCase {
    static let (channels, side) = (3, 20)

    /// A 3x20x20 image with gradients and noise, so that every misplaced pixel shows.
    static var image: [UInt8] {
        var rng = SeededRNG(seed: 4)
        return (0..<(channels * side * side)).map { i in
            let (c, y, x) = (i / (side * side), i / side % side, i % side)
            return UInt8(truncatingIfNeeded: x * 11 + y * 5 * (c + 1) + Int(rng.below(23)))
        }
    }

    struct Case {
        var augmentation: Augmentation
        var view: Augmentation.View
        var center = false
        /// Fraction of pixels allowed to differ by more than one level (rotation's rounding).
        var slack = 0.0
    }

    static var cases: [Case] {
        func a(_ padding: Int, _ crop: Int, _ ifNeeded: Bool, _ mode: Augmentation.PaddingMode, _ interpolation: Augmentation.Interpolation = .nearest) -> Augmentation {
            Augmentation(padding: padding, horizontalFlip: true, cropSize: crop, padIfNeeded: ifNeeded, paddingMode: mode, rotationDegrees: 30,
                         interpolation: interpolation)
        }
        func v(_ aug: Augmentation, _ y: Int, _ x: Int, _ flip: Bool, _ angle: Float) -> Augmentation.View {
            Augmentation.View(cropY: y, cropX: x, flip: flip, padding: aug.cropRange(side).padding, angle: angle)
        }
        var list: [Case] = []
        for mode in Augmentation.PaddingMode.allCases {
            let crop = a(2, 28, true, mode)  // padded twice: 2, then pad_if_needed's 4
            list.append(Case(augmentation: crop, view: v(crop, 1, 3, true, 0)))
            list.append(Case(augmentation: crop, view: v(crop, 4, 0, false, 13.7), slack: 0.01))
            let bilinear = a(3, 20, false, mode, .bilinear)
            list.append(Case(augmentation: bilinear, view: v(bilinear, 5, 2, true, -21.3), slack: 0.01))
        }
        let small = a(0, 16, false, .constant)
        list.append(Case(augmentation: small, view: v(small, 4, 1, false, 0)))
        for crop in [14, 15, 25] {
            let center = Augmentation(padding: 0, horizontalFlip: false, cropSize: crop)
            list.append(Case(augmentation: center, view: center.centerView(side), center: true))
        }
        return list
    }

    func testTransformsMatchTorchvision() throws {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import torch, torchvision, h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torch, python3-torchvision and python3-h5py are not installed (make test installs them)")
        }
        let dir = try TestSupport.temporaryFolder(self)
        let f = try HDF5File.create(dir + "/image.h5")
        try f.write("image", Self.image, shape: [Self.channels, Self.side, Self.side])
        try f.close()
        let cases = Self.cases
        let json: [[String: Any]] = cases.map { c in
            let a = c.augmentation, (offsets, pad) = a.cropRange(Self.side)
            _ = offsets
            return ["center": c.center, "crop": a.cropSize!, "padding": a.padding, "pad_if_needed": a.padIfNeeded, "mode": a.paddingMode.rawValue,
                    "top": c.view.cropY, "left": c.view.cropX, "flip": c.view.flip, "angle": Double(c.view.angle),
                    "interpolation": a.interpolation.rawValue, "total_padding": pad]
        }
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/cases.json"))
        let r = try TestSupport.run("/usr/bin/python3", [TestSupport.root + "/Tests/Scripts/torch_transforms.py", dir + "/image.h5",
                                                         dir + "/cases.json", dir + "/out.h5"])
        XCTAssertEqual(r.status, 0, r.output)
        guard r.status == 0 else { return }
        let torch = try HDF5File.open(dir + "/out.h5")
        for (i, c) in cases.enumerated() {
            let (expected, shape) = try torch.read("\(i)", as: UInt8.self)
            let ours = render(c)
            XCTAssertEqual(shape, [Self.channels, c.augmentation.cropSize!, c.augmentation.cropSize!], "case \(i)")
            guard ours.count == expected.count else { continue }
            let off = zip(ours, expected).filter { $0 != Float($1) }.count
            let far = zip(ours, expected).filter { abs($0 - Float($1)) > 1 }.count
            print("case \(i) (\(c.augmentation.summary), view \(c.view)): \(off) of \(ours.count) values differ, \(far) by more than one level")
            if c.slack == 0 {
                XCTAssertEqual(off, 0, "case \(i): \(c.augmentation.summary), \(c.view)")
            } else {
                XCTAssertLessThanOrEqual(Double(far), c.slack * Double(ours.count), "case \(i): \(c.augmentation.summary), \(c.view)")
            }
        }
    }

    /// The bytes (as floats) our assembler gives for a case.
    private func render(_ c: Case) -> [Float] {
        let data = Dataset(name: "t", images: Self.image, labels: [0], channels: Self.channels, height: Self.side, width: Self.side, classNames: ["a"])
        let assembler = BatchAssembler(dataset: data, normalization: Normalization(mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255]),
                                       transform: c.augmentation)
        var out = [Float](repeating: 0, count: assembler.inputShape.reduce(1, *))
        try? out.withUnsafeMutableBufferPointer { try assembler.fill($0.baseAddress!, indices: [0], views: c.center ? [] : [c.view]) }
        return out.map { $0.rounded() }
    }

    /// Views with every transform survive a logits file bit for bit (angles included), and
    /// are drawn from each sample's own stream.
    func testRotatedViewsRoundTripThroughALogitsFile() throws {
        let aug = Augmentation(padding: 0, horizontalFlip: true, cropSize: 16, padIfNeeded: true, paddingMode: .symmetric, rotationDegrees: 15)
        let views = TeacherViews(samples: 6, perSample: 3, augmentation: aug, imageSize: Self.side, seed: 5)
        XCTAssert(views.views.allSatisfy { abs($0.angle) <= 15 } && Set(views.views.map(\.angle)).count == 18)
        let meta = LogitsFile.Metadata(dataset: "d", datasetFingerprint: "f", split: .train, numClasses: 2, teacherModel: "m",
                                       checkpointSHA256: "c", teacherAccuracy: 0.5, normalization: "n")
        let labels: [Int32] = [0, 1, 0, 1, 0, 1]
        let logits = (0..<36).map { Float($0 % 5) - 2 }
        let path = try TestSupport.temporaryFolder(self) + "/train.h5"
        try LogitsFile(metadata: meta, logits: logits, labels: labels, views: views).write(to: path)
        let back = try XCTUnwrap(try LogitsFile.read(path).views)
        XCTAssertEqual(back, views)
        XCTAssertEqual(back.angles.map(\.bitPattern), views.angles.map(\.bitPattern))
    }

    /// `image_resize: shorter_side` is Pillow's bilinear `Resize(s)` then `CenterCrop(s)` as
    /// torchvision runs them on PIL images, byte for byte, for landscape and portrait images.
    func testShorterSideResizeMatchesTorchvision() throws {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import torchvision, PIL"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torchvision and python3-pil are not installed (make test installs them)")
        }
        let dir = try TestSupport.temporaryFolder(self)
        var rng = SeededRNG(seed: 3)
        for (w, h, size) in [(37, 23, 16), (20, 45, 17), (64, 48, 48), (30, 30, 12)] {
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { i in UInt8(truncatingIfNeeded: i / 3 % w * 7 + i / (3 * w) * 3 + Int(rng.below(40))) })
            try Data(image.pixels).write(to: URL(fileURLWithPath: dir + "/in.rgb"))
            let script = """
            import sys; from PIL import Image; import torchvision.transforms as T
            im = Image.frombytes("RGB", (\(w), \(h)), open(sys.argv[1], "rb").read())
            open(sys.argv[2], "wb").write(T.CenterCrop(\(size))(T.Resize(\(size))(im)).tobytes())
            """
            let r = try TestSupport.run("/usr/bin/python3", ["-c", script, dir + "/in.rgb", dir + "/out.rgb"])
            XCTAssertEqual(r.status, 0, r.output)
            let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/out.rgb")))
            let ours = ImageResize.shorterSideThenCenter(image, size: size)
            XCTAssertEqual(ours.width, size)
            XCTAssertEqual(ours.pixels, expected, "\(w)x\(h) to \(size)")
        }
    }
}
