import Engine
/// An image classification dataset held in memory as it is on disk: uint8 pixels.
///
/// `images` is [count, channels, height, width] row-major; `labels` is [count], each below
/// `classNames.count`. Normalisation and augmentation happen when a batch is assembled.
public struct Dataset: Sendable {
    /// Name as given in params.json, e.g. "fashion-mnist".
    public let name: String
    public let images: [UInt8]
    public let labels: [UInt8]
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classNames: [String]

    public var numClasses: Int { classNames.count }
    /// Pixels in one image (channels x height x width).
    public var imageSize: Int { channels * height * width }
    /// [channels, height, width].
    public var imageShape: [Int] { [channels, height, width] }

    public init(name: String, images: [UInt8], labels: [UInt8], channels: Int, height: Int, width: Int,
                classNames: [String]) {
        precondition(images.count == labels.count * channels * height * width, "images and labels disagree")
        self.name = name
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
    }

    /// SHA-256 (hex) over the image bytes followed by the label bytes, in this order.
    /// Stamped into every logits file so a student can tell which data a file belongs to.
    /// Complexity: O(count x imageSize); about 0.2 s for Fashion-MNIST's training set (release).
    public func fingerprint() -> String {
        var h = SHA256()
        images.withUnsafeBytes { h.update($0) }
        labels.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        let size = imageSize
        var newImages = [UInt8](repeating: 0, count: indices.count * size)
        newImages.withUnsafeMutableBufferPointer { dst in
            images.withUnsafeBufferPointer { src in
                for (row, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
                    UnsafeMutableRawPointer(dst.baseAddress! + row * size)
                        .copyMemory(from: src.baseAddress! + i * size, byteCount: size)
                }
            }
        }
        return Dataset(name: name, images: newImages, labels: indices.map { labels[$0] },
                       channels: channels, height: height, width: width, classNames: classNames)
    }

    /// How many samples each class has.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: numClasses)
        for l in labels { counts[Int(l)] += 1 }
        return counts
    }
}
