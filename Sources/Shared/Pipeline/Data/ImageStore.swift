import Engine
import Foundation

/// Decoded images in one HDF5 file, the layout of a folder dataset's cache and of the
/// `image-store` dataset kind: for each split (`train`, optional `val`, `test`) `<split>/images`
/// uint8 [N', C, H, W] stored contiguously (so rows can be read straight from the file) and
/// `<split>/labels` int32 [N] (N <= N': rows past N are unused, left by images that could not
/// be decoded), and the root attribute `class_names`, one name per line.
///
/// A split whose images fit the memory budget is read into memory; a larger one stays in the
/// file and is read batch by batch (`ImagePixels.file`).
public enum ImageStore {
    /// The file the `image-store` dataset kind reads in its `data_dir`.
    public static let fileName = "images.h5"

    /// The store's splits as datasets named `name`; the images of all splits together are held
    /// in memory when they fit `memoryBudget` bytes, else each split is read from the file.
    public static func load(_ path: String, name: String, memoryBudget: Int) throws -> DatasetKind.OfficialSets {
        try load(try HDF5File.open(path), name: name, memoryBudget: memoryBudget)
    }

    /// The splits of the open store `f` (a folder's cache, opened once to check it and read it).
    static func load(_ f: HDF5File, name: String, memoryBudget: Int) throws -> DatasetKind.OfficialSets {
        let classNames = try f.stringAttribute("class_names").components(separatedBy: "\n")
        let splits = try ["train", "val", "test"].filter { try $0 != "val" || f.children().contains("val") }
        let bytes = try splits.reduce(0) { $0 + (try f.shape(of: $1 + "/images")).reduce(1, *) }
        let inMemory = bytes <= memoryBudget
        func split(_ s: String) throws -> Dataset {
            try read(f, split: s, name: name, classNames: classNames, inMemory: inMemory)
        }
        return DatasetKind.OfficialSets(train: try split("train"), val: splits.contains("val") ? try split("val") : nil, test: try split("test"))
    }

    /// Split `split` of the open store `f`.
    static func read(_ f: HDF5File, split s: String, name: String, classNames: [String], inMemory: Bool) throws -> Dataset {
        let labels = try f.read(s + "/labels", as: Int32.self).values
        let shape = try f.shape(of: s + "/images")
        guard shape.count == 4, shape[0] >= labels.count, shape.dropFirst().allSatisfy({ $0 > 0 }) else {
            throw KDError(file: f.path, "'\(s)/images' has shape \(shape), expected [N, C, H, W] with N >= \(labels.count) ('\(s)/labels')")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classNames.count }) {
            throw KDError(file: f.path, "'\(s)/labels' row \(bad) is \(labels[bad]), not below the \(classNames.count) classes")
        }
        let (c, h, w) = (shape[1], shape[2], shape[3])
        guard h == w else {  // the models end in a global average pool over square planes
            throw KDError(file: f.path, "'\(s)/images' are \(h)x\(w); the models take square images (crop or pad them to \(max(h, w))x\(max(h, w)))")
        }
        let pixels: ImagePixels
        if inMemory {
            pixels = .memory(try f.readRows(s + "/images", 0..<labels.count, as: UInt8.self))
        } else {
            guard let file = try RowFile(f, dataset: s + "/images", elementBytes: 1) else {
                throw KDError(file: f.path, "'\(s)/images' is not stored contiguously, so it cannot be read batch by batch (raise memory_budget_mb, or write it with ImageStore.Writer)")
            }
            pixels = .file(file)
        }
        return Dataset(name: name, pixels: pixels, labels: labels, channels: c, height: h, width: w, classNames: classNames,
                       rows: inMemory || shape[0] == labels.count ? nil : Array(0..<labels.count))
    }

    /// Writes a store split by split, images a block at a time: memory that does not grow with
    /// the number of images. Make it under a temporary name (`AtomicWrite`).
    public final class Writer {
        public let file: HDF5File
        private var images: RowFile?
        private var split = ""
        private var labels: [Int32] = []
        private var capacity = 0

        public init(path: String, classNames: [String]) throws {
            file = try HDF5File.create(path)
            try file.setAttribute("class_names", .string(classNames.joined(separator: "\n")))
        }

        /// Starts split `name` of at most `count` images of `shape` [C, H, W].
        public func begin(_ name: String, count: Int, shape: [Int]) throws {
            try endSplit()
            try file.createRowDataset(name + "/images", of: UInt8.self, shape: [count] + shape)
            images = try RowFile(file, dataset: name + "/images", elementBytes: 1, writable: true)
            guard images != nil || count == 0 else { throw KDError(file: file.path, "cannot lay out '\(name)/images'") }
            (split, labels, capacity) = (name, [], count)
        }

        /// Appends images (whole [C, H, W] images, one after another) and their labels.
        public func append(_ pixels: UnsafeRawPointer, labels new: [Int32]) throws {
            guard !new.isEmpty, let images else { return }
            precondition(labels.count + new.count <= capacity, "more images than begun")
            try images.write(labels.count, count: new.count, from: pixels)
            labels += new
        }

        /// Writes the open split's labels and closes the file.
        public func finish() throws {
            try endSplit()
            try file.close()
        }

        private func endSplit() throws {
            guard !split.isEmpty else { return }
            try file.write(split + "/labels", labels, shape: [labels.count], chunkRows: 65536, gzipLevel: 4)
            split = ""
        }
    }
}
