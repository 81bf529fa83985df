import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Folder datasets: torchvision's ImageFolder layout and food-11's, made of generated PNG and
/// JPEG files; a corrupt image; the decoded cache reused, and rebuilt when a file changes.
final class ImageFolderTests: XCTestCase {
    /// A deterministic 8x8 RGB image whose pixels encode `seed`.
    static func image(_ seed: Int) -> RGBImage {
        RGBImage(width: 8, height: 8, pixels: (0..<(8 * 8 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + seed * 31) })
    }

    private func write(_ image: RGBImage, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if path.lowercased().hasSuffix(".png") { try ImageEncoder.writePNG(image, to: path) } else { try ImageEncoder.writeJPEG(image, to: path, quality: 100) }
    }

    private func options(_ dir: String, size: Int = 8, skip: Bool = false) -> ImageFolderOptions {
        ImageFolderOptions(size: size, channels: 3, cacheDirectory: dir + "/cache", skipBadImages: skip)
    }

    private func quiet(_: String) {}

    /// Classes are train/'s folders sorted by name; files are visited as torchvision does
    /// (folders by path, then names, extensions in any case, other files ignored); rows hold
    /// the files' pixels; a val/ folder becomes the validation set.
    func testImageFolderLayout() throws {
        let root = try TestSupport.temporaryFolder(self) + "/data"
        try write(Self.image(1), root + "/train/dog/b.png")
        try write(Self.image(2), root + "/train/dog/A.PNG")
        try write(Self.image(3), root + "/train/dog/sub/a.png")
        try write(Self.image(4), root + "/train/cat/x.Jpg")
        try write(Self.image(5), root + "/train/Zebra/z.png")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/train/dog/readme.txt"))
        try write(Self.image(6), root + "/test/dog/t.png")
        try write(Self.image(7), root + "/test/Zebra/t.png")

        let listing = try ImageFolderListing(root: root, layout: .folder)
        XCTAssertEqual(listing.classNames, ["Zebra", "cat", "dog"])  // Python's order: upper case first
        XCTAssertEqual(listing.train.map(\.path), ["train/Zebra/z.png", "train/cat/x.Jpg", "train/dog/A.PNG", "train/dog/b.png", "train/dog/sub/a.png"])
        XCTAssertEqual(listing.train.map(\.label), [0, 1, 2, 2, 2])
        XCTAssertEqual(listing.test.map(\.label), [0, 2])
        XCTAssertNil(listing.val)

        let sets = try DatasetKind.folder.load(from: root, images: options(root))
        XCTAssertNil(sets.val)
        XCTAssertEqual(sets.train.imageShape, [3, 8, 8])
        XCTAssertEqual(sets.train.labels, [0, 1, 2, 2, 2])
        XCTAssertEqual(Array(sets.train.images[(2 * 192)..<(3 * 192)]), Self.image(2).planes(channels: 3))
        XCTAssertEqual(Array(sets.test.images[0..<192]), Self.image(7).planes(channels: 3))  // Zebra before dog
        XCTAssertEqual(sets.train.classNames, ["Zebra", "cat", "dog"])

        try write(Self.image(8), root + "/val/cat/v.png")
        let withVal = try DatasetKind.folder.load(from: root, images: options(root))
        XCTAssertEqual(withVal.val?.labels, [1])
        XCTAssertEqual(withVal.val?.images, Self.image(8).planes(channels: 3))
    }

    func testImageFolderRefusals() throws {
        let root = try TestSupport.temporaryFolder(self) + "/data"
        func refusal(_ expected: String, _ line: UInt = #line) {
            XCTAssertThrowsError(try ImageFolderListing(root: root, layout: .folder), line: line) { error in
                XCTAssert("\(error)".contains(expected), "\(error)", line: line)
            }
        }
        refusal(root + "/train: folder not found")
        try write(Self.image(1), root + "/train/a/1.png")
        try FileManager.default.createDirectory(atPath: root + "/train/b", withIntermediateDirectories: true)
        try write(Self.image(1), root + "/test/a/1.png")
        refusal(root + "/train/b: class folder holds no image files")
        try write(Self.image(1), root + "/train/b/1.png")
        try write(Self.image(1), root + "/test/c/1.png")
        refusal(root + "/test/c: class folder that train/ does not have")
    }

    /// food-11: flat folders, labels from `<label>_<id>` names, the three official splits.
    func testFood11Layout() throws {
        let root = try TestSupport.temporaryFolder(self) + "/food-11"
        try write(Self.image(1), root + "/training/3_10.jpg")
        try write(Self.image(2), root + "/training/10_2.jpg")
        try write(Self.image(3), root + "/training/0_1.png")
        try write(Self.image(4), root + "/validation/5_0.jpg")
        try write(Self.image(5), root + "/evaluation/7_0.jpg")
        let sets = try DatasetKind.food11.load(from: root, images: options(root, size: 4))
        XCTAssertEqual(sets.train.labels, [0, 10, 3])  // "0_1", "10_2", "3_10" in sorted order
        XCTAssertEqual(sets.val?.labels, [5])
        XCTAssertEqual(sets.test.labels, [7])
        XCTAssertEqual(sets.train.imageShape, [3, 4, 4])
        XCTAssertEqual(sets.train.classNames.count, 11)
        let expected = ImageResize.bilinear(Self.image(3), width: 4, height: 4).planes(channels: 3)
        XCTAssertEqual(Array(sets.train.images[0..<48]), expected)

        try write(Self.image(6), root + "/training/11_0.jpg")
        XCTAssertThrowsError(try ImageFolderListing(root: root, layout: .food11)) { error in
            XCTAssert("\(error)".contains(root + "/training/11_0.jpg: food-11 file names are <label>_<id>.jpg"), "\(error)")
        }
    }

    /// A corrupt image stops the load with an error naming it and writes no cache; with
    /// skip_bad_images it is left out and listed, on this load and on every cached one.
    func testCorruptImage() throws {
        let root = try TestSupport.temporaryFolder(self) + "/data"
        try write(Self.image(1), root + "/train/a/1.png")
        try write(Self.image(2), root + "/train/a/2.png")
        try write(Self.image(3), root + "/train/b/1.png")
        try write(Self.image(4), root + "/test/a/1.png")
        try Data("GIF89a, not a JPEG".utf8).write(to: URL(fileURLWithPath: root + "/train/a/3.jpg"))
        XCTAssertThrowsError(try DatasetKind.folder.load(from: root, images: options(root))) { error in
            XCTAssert("\(error)".hasPrefix(root + "/train/a/3.jpg: not a readable JPEG"), "\(error)")
        }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: root + "/cache")) ?? [], [])

        var lines: [String] = []
        let listing = try ImageFolderListing(root: root, layout: .folder)
        let sets = try ImageFolderCache.load(listing, name: "folder", options: options(root, skip: true)) { lines.append($0) }
        XCTAssertEqual(sets.train.labels, [0, 0, 1])
        XCTAssert(lines.contains { $0.contains("skipped 1 unreadable image") && $0.contains("train/a/3.jpg") }, "\(lines)")
        lines = []
        let again = try ImageFolderCache.load(listing, name: "folder", options: options(root, skip: true)) { lines.append($0) }
        XCTAssertFalse(again.decoded)
        XCTAssert(lines.contains { $0.contains("left out") && $0.contains("train/a/3.jpg") }, "\(lines)")
    }

    /// The second load reads the cache; changing, adding or removing a file rebuilds it.
    func testCacheReusedAndInvalidated() throws {
        let root = try TestSupport.temporaryFolder(self) + "/data"
        try write(Self.image(1), root + "/train/a/1.png")
        try write(Self.image(2), root + "/train/b/1.png")
        try write(Self.image(3), root + "/test/a/1.png")
        func load() throws -> ImageFolderCache.Splits {
            try ImageFolderCache.load(try ImageFolderListing(root: root, layout: .folder), name: "folder", options: options(root), log: quiet)
        }
        let first = try load()
        XCTAssertTrue(first.decoded)
        XCTAssert(FileManager.default.fileExists(atPath: first.cachePath))
        let second = try load()
        XCTAssertFalse(second.decoded)
        XCTAssertEqual(second.train.images, first.train.images)
        XCTAssertEqual(try second.train.fingerprint(), try first.train.fingerprint())
        XCTAssertEqual(second.test.labels, first.test.labels)

        try write(Self.image(9), root + "/train/b/1.png")  // same name and size, new pixels
        let changed = try load()
        XCTAssertTrue(changed.decoded)
        XCTAssertEqual(Array(changed.train.images[192...]), Self.image(9).planes(channels: 3))
        XCTAssertEqual(changed.cachePath, first.cachePath, "one cache file per folder and options, replaced")
        XCTAssertFalse(try load().decoded)

        try write(Self.image(4), root + "/train/b/2.png")
        XCTAssertEqual(try load().train.count, 3)
        try FileManager.default.removeItem(atPath: root + "/train/b/2.png")
        let removed = try load()
        XCTAssertTrue(removed.decoded)
        XCTAssertEqual(removed.train.count, 2)

        // A damaged cache (here an HDF5 file whose metadata crashes the HDF5 library) is decoded again.
        try FileManager.default.removeItem(atPath: first.cachePath)
        try FileManager.default.copyItem(atPath: TestSupport.fixtures + "/damaged-files/3243-logits-copy/train.h5", toPath: first.cachePath)
        var lines: [String] = []
        let repaired = try ImageFolderCache.load(try ImageFolderListing(root: root, layout: .folder), name: "folder", options: options(root)) { lines.append($0) }
        XCTAssertTrue(repaired.decoded)
        XCTAssertEqual(repaired.train.images, removed.train.images)
        XCTAssert(lines.contains { $0.contains("is unreadable") && $0.contains("damaged (the HDF5 library failed reading it: signal 11") }, "\(lines)")
        XCTAssertFalse(try load().decoded, "the cache was written again")

        // Other options are another cache.
        let small = try ImageFolderCache.load(try ImageFolderListing(root: root, layout: .folder), name: "folder",
                                              options: options(root, size: 4), log: quiet)
        XCTAssertTrue(small.decoded)
        XCTAssertNotEqual(small.cachePath, first.cachePath)
    }
}
