import Engine
import Foundation
/// An image classification dataset: uint8 pixels as they are on disk, held in memory or read
/// from a file by the rows a batch needs (`ImagePixels`), and Int32 labels.
///
/// A sample's image is [channels, height, width] row-major. `labels` is [count], each below
/// `classNames.count`. A subset (a split, a fraction of one) is a list of rows of the same
/// pixels, never a copy. Normalisation and augmentation happen when a batch is assembled.
public struct Dataset: Sendable {
    /// Name as given in params.json, e.g. "fashion-mnist".
    public let name: String
    public let labels: [Int32]
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classNames: [String]
    /// Where the images are.
    public let pixels: ImagePixels
    /// The row of `pixels` each sample is; nil when sample i is row i.
    let rows: [Int]?
    /// The fingerprint once computed: a streamed split's takes a pass over its file.
    let fingerprintMemo = FingerprintMemo()

    public var numClasses: Int { classNames.count }
    /// Pixels in one image (channels x height x width).
    public var imageSize: Int { channels * height * width }
    /// [channels, height, width].
    public var imageShape: [Int] { [channels, height, width] }
    /// Whether the images are read from a file batch by batch rather than held in memory.
    public var isStreamed: Bool { if case .file = pixels { true } else { false } }

    public init(name: String, pixels: ImagePixels, labels: [Int32], channels: Int, height: Int, width: Int, classNames: [String],
                rows: [Int]? = nil) {
        let stored = pixels.rowCount(imageSize: channels * height * width)
        precondition(rows == nil ? stored == labels.count : rows!.count == labels.count, "images and labels disagree")
        precondition(rows?.allSatisfy { $0 >= 0 && $0 < stored } ?? true, "a row out of range")
        self.name = name
        self.pixels = pixels
        self.labels = labels
        self.rows = rows
        self.count = labels.count
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
    }

    /// A dataset held in memory, with byte labels (IDX, CIFAR-10).
    public init(name: String, images: [UInt8], labels: [UInt8], channels: Int, height: Int, width: Int, classNames: [String]) {
        self.init(name: name, pixels: .memory(images), labels: labels.map { Int32($0) }, channels: channels, height: height,
                  width: width, classNames: classNames)
    }

    /// The row of `pixels` that sample `i` is.
    @inline(__always) func storedRow(_ i: Int) -> Int { rows?[i] ?? i }

    /// The samples at `indices`, in that order: the same pixels, other rows.
    public func subset(_ indices: [Int]) -> Dataset {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < count }, "an index out of range 0..<\(count)")
        return Dataset(name: name, pixels: pixels, labels: indices.map { labels[$0] }, channels: channels, height: height,
                       width: width, classNames: classNames, rows: rows.map { r in indices.map { r[$0] } } ?? indices)
    }

    /// How many samples each class has.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: numClasses)
        for l in labels { counts[Int(l)] += 1 }
        return counts
    }
}

/// Where a dataset's images are: all in memory, or in a file read by rows.
public enum ImagePixels: Sendable {
    /// [rows, channels, height, width] uint8.
    case memory([UInt8])
    /// A contiguous uint8 dataset of the same shape in an HDF5 file (`ImageStore`).
    case file(RowFile)

    func rowCount(imageSize: Int) -> Int {
        switch self {
        case .memory(let bytes): return imageSize == 0 ? 0 : bytes.count / imageSize
        case .file(let f): return f.rows
        }
    }
}

/// A dataset's fingerprint, kept once computed (the dataset is immutable).
final class FingerprintMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?

    func get(_ compute: () throws -> String) rethrows -> String {
        lock.lock(); defer { lock.unlock() }
        if let value { return value }
        let v = try compute()
        value = v
        return v
    }
}
