import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// A teacher trained elsewhere: a randomly initialised torchvision ResNet saved by PyTorch,
/// imported with scripts/import_torch_teacher.py and exported by `teacher-export` over an image
/// folder, gives the logits torchvision's own pipeline (ImageFolder, Resize, ToTensor,
/// Normalize, the model in evaluation mode) gives on the same files, within 1e-4.
final class ImportTorchTeacherTests: XCTestCase {
    static let repoRoot = TestSupport.root
    static let imagenetMean = [0.485, 0.456, 0.406], imagenetStd = [0.229, 0.224, 0.225]

    private func python() throws -> String {
        let python = "/usr/bin/python3"
        guard (try? TestSupport.run(python, ["-c", "import torch, torchvision, h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torch, python3-torchvision and python3-h5py are not installed (make test installs them)")
        }
        return python
    }

    /// A folder of 3 classes, PNG and JPEG files of 40x36 (resized to 32 by both sides).
    private func makeFolder(_ root: String) throws {
        var rng = SeededRNG(seed: 5)
        for split in ["train", "test"] {
            for (c, name) in ["apple", "banana", "cherry"].enumerated() {
                try FileManager.default.createDirectory(atPath: "\(root)/\(split)/\(name)", withIntermediateDirectories: true)
                for i in 0..<(split == "train" ? 3 : 2) {
                    let pixels = (0..<(40 * 36)).flatMap { p -> [UInt8] in
                        let x = p % 40, y = p / 40
                        return (0..<3).map { ch in UInt8(truncatingIfNeeded: x * (ch + 2) + y * (3 - ch) + c * 60 + Int(rng.below(40))) }
                    }
                    let image = RGBImage(width: 40, height: 36, pixels: pixels)
                    if i % 2 == 0 {
                        try ImageEncoder.writePNG(image, to: "\(root)/\(split)/\(name)/\(i).png")
                    } else {
                        try ImageEncoder.writeJPEG(image, to: "\(root)/\(split)/\(name)/\(i).jpg", quality: 90)
                    }
                }
            }
        }
    }

    private func checkParity(_ arch: String) throws {
        let python = try python()
        let dir = try TestSupport.temporaryFolder(self)
        try makeFolder(dir + "/images")
        let stateDict = dir + "/\(arch).pt"
        let made = try TestSupport.run(python, [Self.repoRoot + "/Tests/Scripts/torch_teacher.py", "make", arch, "3", "17", stateDict])
        XCTAssertEqual(made.status, 0, made.output)

        let teacher = dir + "/teacher"
        try TestSupport.writeParams(teacher, ["model_version": arch, "dataset": "folder", "data_dir": dir + "/images", "image_size": 32,
                                              "image_cache_dir": dir + "/cache", "val_size": 1,
                                              "normalization_mean": Self.imagenetMean, "normalization_std": Self.imagenetStd])
        let imported = try TestSupport.run(python, [Self.repoRoot + "/scripts/import_torch_teacher.py", stateDict, "--model-dir", teacher])
        XCTAssertEqual(imported.status, 0, imported.output)
        XCTAssert(imported.output.contains("as \(arch) -> \(teacher)/best.h5"), imported.output)
        let again = try TestSupport.run(python, [Self.repoRoot + "/scripts/import_torch_teacher.py", stateDict, "--model-dir", teacher])
        XCTAssertNotEqual(again.status, 0)
        XCTAssert(again.output.contains("best.h5: exists; pass --force"), again.output)

        let export = try TestSupport.stage("teacher-export", ["--model-dir", teacher, "--splits", "test"])
        XCTAssertEqual(export.status, 0, export.output)
        let ours = try HDF5File.open(teacher + "/logits/test.h5").read("logits", as: Float.self)

        let torchOut = dir + "/torch.h5"
        let forward = try TestSupport.run(python, [Self.repoRoot + "/Tests/Scripts/torch_teacher.py", "forward", arch, stateDict, dir + "/images/test", "32",
                                                   Self.imagenetMean.map { "\($0)" }.joined(separator: ","),
                                                   Self.imagenetStd.map { "\($0)" }.joined(separator: ","), torchOut])
        XCTAssertEqual(forward.status, 0, forward.output)
        let f = try HDF5File.open(torchOut)
        let reference = try f.read("logits", as: Float.self)
        XCTAssertEqual(ours.shape, reference.shape)
        XCTAssertEqual(try HDF5File.open(teacher + "/logits/test.h5").read("labels", as: Int32.self).values,
                       try f.read("targets", as: Int32.self).values, "rows in ImageFolder's order")
        let scale = reference.values.map { abs($0) }.max() ?? 0
        let worst = zip(ours.values, reference.values).map { abs($0 - $1) }.enumerated().max { $0.element < $1.element }
        print("\(arch): max |logit - PyTorch's| = \(worst?.element ?? 0) (row \((worst?.offset ?? 0) / 3)), largest logit \(scale)")
        XCTAssertLessThan(worst?.element ?? .infinity, 1e-4 * max(1, scale), "\(arch): logits against PyTorch's")
    }

    func testTorchvisionResNet18Import() throws { try checkParity("torchvision_resnet18") }
    func testTorchvisionResNet50Import() throws { try checkParity("torchvision_resnet50") }

    /// A state_dict of another architecture is refused before anything is written.
    func testMismatchedStateDictIsRefused() throws {
        let python = try python()
        let dir = try TestSupport.temporaryFolder(self)
        let stateDict = dir + "/r18.pt"
        XCTAssertEqual(try TestSupport.run(python, [Self.repoRoot + "/Tests/Scripts/torch_teacher.py", "make", "torchvision_resnet18", "3", "1", stateDict]).status, 0)
        try TestSupport.writeParams(dir + "/teacher", ["model_version": "torchvision_resnet34", "dataset": "folder"])
        let r = try TestSupport.run(python, [Self.repoRoot + "/scripts/import_torch_teacher.py", stateDict, "--model-dir", dir + "/teacher"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.output.contains("\(stateDict): does not fit torchvision_resnet34: missing layer1.2.conv1.weight"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/teacher/best.h5"))
    }
}
