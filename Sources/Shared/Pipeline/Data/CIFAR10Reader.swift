import Engine
import Foundation

/// Reader for CIFAR-10's binary version: files of 3073-byte records (1 label byte, then
/// 1024 red, 1024 green, 1024 blue bytes of a 32x32 image), e.g. `data_batch_1.bin`.
public enum CIFAR10Reader {
    public static let recordBytes = 3073
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]

    /// Reads and concatenates the given record files into one dataset.
    public static func load(name: String = "cifar10", files paths: [String]) throws -> Dataset {
        var images = [UInt8]()
        var labels = [UInt8]()
        for path in paths {
            let bytes = try FileBytes.read(path)
            guard bytes.count > 0, bytes.count % recordBytes == 0 else {
                throw KDError(file: path, "length \(bytes.count) is not a multiple of the \(recordBytes)-byte CIFAR-10 record"
                    + (bytes.count > 0 ? " (\(bytes.count / recordBytes) whole records, \(bytes.count % recordBytes) bytes over)" : ""))
            }
            let n = bytes.count / recordBytes
            images.reserveCapacity(images.count + n * 3072)
            for r in 0..<n {
                let start = r * recordBytes
                let label = bytes[start]
                guard Int(label) < classNames.count else {
                    throw KDError(file: path, "label \(label) of record \(r) (byte offset \(start)) is not below 10")
                }
                labels.append(label)
                images.append(contentsOf: bytes[(start + 1)..<(start + recordBytes)])
            }
        }
        return Dataset(name: name, images: images, labels: labels, channels: 3, height: 32, width: 32,
                       classNames: classNames)
    }
}
