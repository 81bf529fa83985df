import Engine
import Foundation

/// The datasets the pipeline knows by name, where each lives by default, and how to read it.
public enum DatasetKind: String, CaseIterable, Codable, Sendable {
    case fashionMNIST = "fashion-mnist"
    case mnist = "mnist"
    case cifar10 = "cifar10"
    /// torchvision's ImageFolder layout (`train/`, `test/`, optional `val/`, a folder per class).
    case folder = "folder"
    /// food-11's flat `<label>_<id>.jpg` files in `training/`, `validation/`, `evaluation/`.
    case food11 = "food-11"
    /// Decoded images in one HDF5 file, `<data_dir>/images.h5` (`ImageStore`'s layout): a set
    /// converted once, or generated (`scripts/bench_scale.sh`).
    case imageStore = "image-store"

    /// Where the data is unless params.json says `data_dir`.
    public var defaultDirectory: String {
        switch self {
        case .fashionMNIST: return "/usr/share/datasets/fashion-mnist"  // Debian's dataset-fashion-mnist
        case .mnist: return "data/mnist"
        case .cifar10: return "data/cifar-10-batches-bin"
        case .folder: return "data/images"
        case .food11: return "data/food-11"
        case .imageStore: return "data/image-store"
        }
    }

    /// The class names of the built-in datasets (folder datasets name theirs by their folders).
    public var classNames: [String] {
        switch self {
        case .fashionMNIST:
            return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        case .mnist: return (0..<10).map(String.init)
        case .cifar10: return CIFAR10Reader.classNames
        case .folder, .imageStore: return []
        case .food11: return ImageFolderListing.food11ClassNames
        }
    }

    /// Whether the data is a folder of image files (decoded and cached) rather than a fixed format.
    public var isImageFolder: Bool { self == .folder || self == .food11 }

    /// The official sets of a dataset: training and test, and validation when the dataset has
    /// its own (folder datasets with a `val/` folder, food-11).
    public struct OfficialSets: Sendable {
        public var train: Dataset
        public var val: Dataset?
        public var test: Dataset
    }

    /// Reads the official sets from `directory`; `images` says how folder datasets are decoded.
    /// A `quiet` load does not report a folder's decoding (the other processes of a job, which
    /// read the root's cache).
    public func load(from directory: String? = nil, images: ImageFolderOptions = ImageFolderOptions(), quiet: Bool = false) throws -> OfficialSets {
        let dir = directory ?? defaultDirectory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            let hint = self == .fashionMNIST ? " (install Debian's dataset-fashion-mnist: make deps)" : ""
            throw KDError(file: dir, "dataset folder for \(rawValue) not found\(hint)")
        }
        switch self {
        case .fashionMNIST, .mnist:
            func idx(_ base: String) throws -> String { try Self.locate(base, in: dir, suffixes: [".gz", ""]) }
            let train = try IDXReader.load(name: rawValue, images: idx("train-images-idx3-ubyte"),
                                           labels: idx("train-labels-idx1-ubyte"), classNames: classNames)
            let test = try IDXReader.load(name: rawValue, images: idx("t10k-images-idx3-ubyte"),
                                          labels: idx("t10k-labels-idx1-ubyte"), classNames: classNames)
            return OfficialSets(train: train, test: test)
        case .cifar10:
            let train = try CIFAR10Reader.load(name: rawValue, files: CIFAR10Reader.trainFiles.map {
                try Self.locate($0, in: dir, suffixes: [""]) })
            let test = try CIFAR10Reader.load(name: rawValue, files: CIFAR10Reader.testFiles.map {
                try Self.locate($0, in: dir, suffixes: [""]) })
            return OfficialSets(train: train, test: test)
        case .folder, .food11:
            let listing = try ImageFolderListing(root: dir, layout: self == .folder ? .folder : .food11)
            let sets = try ImageFolderCache.load(listing, name: rawValue, options: images) { line in
                if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            }
            return OfficialSets(train: sets.train, val: sets.val, test: sets.test)
        case .imageStore:
            let path = (dir as NSString).appendingPathComponent(ImageStore.fileName)
            return try ImageStore.load(path, name: rawValue, memoryBudget: images.memoryBudget)
        }
    }

    /// The first of `base + suffix` that exists in `dir`.
    static func locate(_ base: String, in dir: String, suffixes: [String]) throws -> String {
        for suffix in suffixes {
            let path = (dir as NSString).appendingPathComponent(base + suffix)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        let tried = suffixes.map { base + $0 }.joined(separator: " or ")
        throw KDError(file: (dir as NSString).appendingPathComponent(base), "file not found (looked for \(tried))")
    }
}
