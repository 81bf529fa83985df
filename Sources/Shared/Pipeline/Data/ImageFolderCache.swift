import Dispatch
import Engine
import Foundation

/// A folder dataset decoded once: the first stage to read a folder decodes every image (in
/// parallel, with progress), resizes it and writes all splits into one HDF5 file; every later
/// stage and sweep point reads that file and decodes nothing.
///
/// The cache file's name comes from the folder's absolute path and the options; inside, the
/// attribute `files_fingerprint` is a SHA-256 over every listed file's relative path, label, size
/// and modification time, and the options. A file added, removed, renamed or changed gives
/// another fingerprint, and the cache is rebuilt and replaced. Layout:
/// `<split>/images` uint8 [N, C, size, size], `<split>/labels` uint8 [N], `<split>/files` the
/// relative paths as UTF-8 joined by newlines, for split in train, val (when the folder has
/// one), test; root attributes `class_names` (joined by newlines) and `skipped` (the same).
public enum ImageFolderCache {
    public static let formatVersion: Int64 = 1

    public struct Splits: Sendable {
        public var train: Dataset
        public var val: Dataset?
        public var test: Dataset
        /// Whether this load decoded the images (false: read from the cache).
        public var decoded: Bool
        public var cachePath: String
    }

    /// The folder's splits as datasets named `name`, from the cache when it is current.
    public static func load(_ listing: ImageFolderListing, name: String, options: ImageFolderOptions,
                            log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> Splits {
        let cacheDir = options.cacheDirectory ?? ImageFolderOptions.defaultCacheDirectory
        let path = cachePath(listing, options: options, in: cacheDir)
        let fingerprint = try filesFingerprint(listing, options: options)
        if FileManager.default.fileExists(atPath: path) {
            do {
                if let splits = try read(path, fingerprint: fingerprint, name: name, options: options, log: log) {
                    log("images: read \(splits.train.count + (splits.val?.count ?? 0) + splits.test.count) decoded images from the cache \(path)")
                    return splits
                }
                log("images: \(listing.root) changed since \(path) was written; decoding again")
            } catch {
                log("images: the cache \(path) is unreadable (\(error)); decoding again")
            }
        }
        let start = Date()
        var skipped: [String] = []
        func decodeSplit(_ entries: [ImageFolderListing.Entry], _ split: String) throws -> (Dataset, [String]) {
            let (data, files, bad) = try decode(entries, split: split, listing: listing, name: name, options: options)
            skipped += bad
            return (data, files)
        }
        let (train, trainFiles) = try decodeSplit(listing.train, "train")
        let val = try listing.val.map { try decodeSplit($0, "val") }
        let (test, testFiles) = try decodeSplit(listing.test, "test")
        let seconds = Date().timeIntervalSince(start)
        let total = listing.train.count + (listing.val?.count ?? 0) + listing.test.count
        log(String(format: "images: decoded %d files in %.1f s (%.0f images/s, %d threads)", total, seconds,
                   Double(total) / max(seconds, 1e-9), ProcessInfo.processInfo.activeProcessorCount))
        if !skipped.isEmpty {
            log("images: skipped \(skipped.count) unreadable image(s) (skip_bad_images): " + skipped.joined(separator: "; "))
        }
        do {
            try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
            try write(path, fingerprint: fingerprint, listing: listing, splits: [("train", train, trainFiles)]
                      + (val.map { [("val", $0.0, $0.1)] } ?? []) + [("test", test, testFiles)], skipped: skipped)
            log("images: cached in \(path)")
        } catch {
            // The data is in memory; a cache that cannot be written costs time, not correctness.
            log("images: could not write the cache \(path) (\(error)); the next run decodes again")
        }
        return Splits(train: train, val: val?.0, test: test, decoded: true, cachePath: path)
    }

    /// Where the cache of `listing` with `options` lives.
    public static func cachePath(_ listing: ImageFolderListing, options: ImageFolderOptions, in dir: String) -> String {
        let root = URL(fileURLWithPath: listing.root).standardizedFileURL.path
        var h = SHA256()
        h.update(Array("\(root)\n\(listing.layout.rawValue)\n\(options.size)\n\(options.channels)\n\(options.skipBadImages)".utf8))
        let base = URL(fileURLWithPath: root).lastPathComponent.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        return dir + "/" + (base.isEmpty ? "images" : base) + "-" + h.finalizeHex().prefix(16) + ".h5"
    }

    /// SHA-256 over the options and every file's relative path, label, size and modification time.
    static func filesFingerprint(_ listing: ImageFolderListing, options: ImageFolderOptions) throws -> String {
        var h = SHA256()
        h.update(Array("kd-pipeline image cache \(formatVersion)\n\(listing.layout.rawValue)\n\(options.size)\n\(options.channels)\n\(options.skipBadImages)\n\(listing.classNames.joined(separator: "\n"))\n".utf8))
        for (split, entries) in [("train", listing.train), ("val", listing.val ?? []), ("test", listing.test)] {
            h.update(Array("[\(split)]\n".utf8))
            for e in entries {
                let full = listing.root + "/" + e.path
                var st = stat()
                guard stat(full, &st) == 0 else { throw KDError(file: full, "cannot read file (\(String(cString: strerror(errno))))") }
                h.update(Array("\(e.path)\t\(e.label)\t\(st.st_size)\t\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n".utf8))
            }
        }
        return h.finalizeHex()
    }

    /// Decodes `entries` on every core into one split.
    private static func decode(_ entries: [ImageFolderListing.Entry], split: String, listing: ImageFolderListing, name: String,
                               options: ImageFolderOptions) throws -> (Dataset, [String], [String]) {
        let imageSize = options.channels * options.size * options.size
        let count = entries.count
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(count * imageSize, 1))
        defer { buffer.deallocate() }
        let state = DecodeState(count: count)
        nonisolated(unsafe) let output = buffer
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = state.next() {
                let path = listing.root + "/" + entries[i].path
                do {
                    var image = try ImageDecoder.decode(path)
                    image = ImageResize.bilinear(image, width: options.size, height: options.size)
                    let planes = image.planes(channels: options.channels)
                    planes.withUnsafeBufferPointer { (output + i * imageSize).update(from: $0.baseAddress!, count: imageSize) }
                    state.finish(i, error: nil)
                } catch {
                    state.finish(i, error: "\(error)")
                }
            }
        }
        let errors = state.errors
        if !options.skipBadImages, let first = errors.keys.min() {
            let more = errors.count > 1 ? " (and \(errors.count - 1) more unreadable images; skip_bad_images: true leaves them out)" : ""
            throw KDError(errors[first]! + more)
        }
        var images = [UInt8]()
        images.reserveCapacity((count - errors.count) * imageSize)
        var labels = [UInt8](), files = [String](), skipped = [String]()
        for i in 0..<count {
            if let e = errors[i] { skipped.append(e); continue }
            images.append(contentsOf: UnsafeBufferPointer(start: buffer + i * imageSize, count: imageSize))
            labels.append(UInt8(entries[i].label))
            files.append(entries[i].path)
        }
        guard !labels.isEmpty else { throw KDError(file: listing.root, "no readable images in the \(split) split") }
        return (Dataset(name: name, images: images, labels: labels, channels: options.channels, height: options.size,
                        width: options.size, classNames: listing.classNames), files, skipped)
    }

    private static func write(_ path: String, fingerprint: String, listing: ImageFolderListing,
                              splits: [(String, Dataset, [String])], skipped: [String]) throws {
        try AtomicWrite.write(to: path) { tmp in
            let f = try HDF5File.create(tmp)
            try f.setAttribute("format_version", .int(formatVersion))
            try f.setAttribute("files_fingerprint", .string(fingerprint))
            try f.setAttribute("root", .string(listing.root))
            try f.setAttribute("layout", .string(listing.layout.rawValue))
            try f.setAttribute("class_names", .string(listing.classNames.joined(separator: "\n")))
            try f.setAttribute("skipped", .string(skipped.joined(separator: "\n")))
            for (split, data, files) in splits {
                try f.write(split + "/images", data.images, shape: [data.count] + data.imageShape, chunkRows: 256)
                try f.write(split + "/labels", data.labels, shape: [data.count])
                let names = Array(files.joined(separator: "\n").utf8)
                try f.write(split + "/files", names, shape: [names.count])
            }
            try f.close()
        }
    }

    /// The cached splits, or nil when the cache belongs to other files.
    private static func read(_ path: String, fingerprint: String, name: String, options: ImageFolderOptions,
                             log: (String) -> Void) throws -> Splits? {
        let f = try HDF5File.open(path)
        guard try f.intAttribute("format_version") == formatVersion, try f.stringAttribute("files_fingerprint") == fingerprint else {
            return nil
        }
        let classNames = try f.stringAttribute("class_names").components(separatedBy: "\n")
        let skipped = try f.stringAttribute("skipped")
        if !skipped.isEmpty {
            log("images: left out when the cache was built (skip_bad_images): " + skipped.split(separator: "\n").joined(separator: "; "))
        }
        func split(_ s: String) throws -> Dataset {
            let images = try f.read(s + "/images", as: UInt8.self)
            let labels = try f.read(s + "/labels", as: UInt8.self).values
            guard images.shape == [labels.count, options.channels, options.size, options.size] else {
                throw KDError(file: path, "'\(s)/images' has shape \(images.shape)")
            }
            return Dataset(name: name, images: images.values, labels: labels, channels: options.channels,
                           height: options.size, width: options.size, classNames: classNames)
        }
        return Splits(train: try split("train"), val: f.exists("val") ? try split("val") : nil, test: try split("test"),
                      decoded: false, cachePath: path)
    }
}

/// Hands out image indices to the decoding threads, collects their errors, and prints progress
/// to standard error every 5 seconds.
private final class DecodeState: @unchecked Sendable {
    private let lock = NSLock()
    private let count: Int
    private var nextIndex = 0
    private var done = 0
    private var lastReport = Date()
    private let start = Date()
    private(set) var errors: [Int: String] = [:]

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextIndex < count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func finish(_ i: Int, error: String?) {
        lock.lock(); defer { lock.unlock() }
        if let error { errors[i] = error }
        done += 1
        let now = Date()
        if now.timeIntervalSince(lastReport) >= 5 && done < count {
            lastReport = now
            let rate = Double(done) / now.timeIntervalSince(start)
            FileHandle.standardError.write(Data(String(format: "images: decoding %d/%d (%.0f%%), %.0f images/s, about %.0f s left\n",
                                                       done, count, 100 * Double(done) / Double(count), rate, Double(count - done) / rate).utf8))
        }
    }
}
