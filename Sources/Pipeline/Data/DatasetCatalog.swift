import Engine
import Foundation

/// The datasets the pipeline knows by name, where each lives by default, and how to read it.
public enum DatasetKind: String, CaseIterable, Codable, Sendable {
    case fashionMNIST = "fashion-mnist"
    case mnist = "mnist"
    case cifar10 = "cifar10"

    /// Where the data is unless params.json says `data_dir`.
    public var defaultDirectory: String {
        switch self {
        case .fashionMNIST: return "/usr/share/datasets/fashion-mnist"  // Debian's dataset-fashion-mnist
        case .mnist: return "data/mnist"
        case .cifar10: return "data/cifar-10-batches-bin"
        }
    }

    public var classNames: [String] {
        switch self {
        case .fashionMNIST:
            return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        case .mnist: return (0..<10).map(String.init)
        case .cifar10: return CIFAR10Reader.classNames
        }
    }

    /// Reads the official training and test sets from `directory`.
    public func load(from directory: String? = nil) throws -> (train: Dataset, test: Dataset) {
        let dir = directory ?? defaultDirectory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            let hint = self == .fashionMNIST ? " (install Debian's dataset-fashion-mnist: make deps)" : ""
            throw PipelineError(file: dir, "dataset folder for \(rawValue) not found\(hint)")
        }
        switch self {
        case .fashionMNIST, .mnist:
            func idx(_ base: String) throws -> String { try Self.locate(base, in: dir, suffixes: [".gz", ""]) }
            let train = try IDXReader.load(name: rawValue, images: idx("train-images-idx3-ubyte"),
                                           labels: idx("train-labels-idx1-ubyte"), classNames: classNames)
            let test = try IDXReader.load(name: rawValue, images: idx("t10k-images-idx3-ubyte"),
                                          labels: idx("t10k-labels-idx1-ubyte"), classNames: classNames)
            return (train, test)
        case .cifar10:
            let train = try CIFAR10Reader.load(name: rawValue, files: CIFAR10Reader.trainFiles.map {
                try Self.locate($0, in: dir, suffixes: [""]) })
            let test = try CIFAR10Reader.load(name: rawValue, files: CIFAR10Reader.testFiles.map {
                try Self.locate($0, in: dir, suffixes: [""]) })
            return (train, test)
        }
    }

    /// The first of `base + suffix` that exists in `dir`.
    static func locate(_ base: String, in dir: String, suffixes: [String]) throws -> String {
        for suffix in suffixes {
            let path = (dir as NSString).appendingPathComponent(base + suffix)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        let tried = suffixes.map { base + $0 }.joined(separator: " or ")
        throw PipelineError(file: (dir as NSString).appendingPathComponent(base), "file not found (looked for \(tried))")
    }
}
