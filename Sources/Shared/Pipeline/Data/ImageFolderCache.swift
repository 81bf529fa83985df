import Dispatch
import Engine
import Foundation

/// A folder dataset decoded once: the first stage to read a folder decodes every image (in
/// parallel, with progress, a block at a time), resizes it and writes all splits into one
/// `ImageStore` file; every later stage and sweep point reads that file and decodes nothing.
/// Splits larger than the memory budget stay in the file and are read batch by batch.
///
/// The cache file's name comes from the folder's absolute path and the options; inside, the
/// attribute `files_fingerprint` is a SHA-256 over every listed file's relative path, label, size
/// and modification time, and the options. A file added, removed, renamed or changed gives
/// another fingerprint, and the cache is rebuilt and replaced. Layout: `ImageStore`'s, with
/// `<split>/files` the relative paths as UTF-8 joined by newlines and the root attributes
/// `format_version`, `files_fingerprint`, `root`, `layout` and `skipped` (joined by newlines).
/// Version 1 caches (chunked images, uint8 labels) are decoded again.
public enum ImageFolderCache {
    public static let formatVersion: Int64 = 2
    /// Images decoded at a time: what the decoding holds in memory.
    static let blockImages = 1024

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
                    log("images: read \(splits.train.count + (splits.val?.count ?? 0) + splits.test.count) decoded images from the cache \(path)"
                        + (splits.train.isStreamed ? " (larger than memory_budget_mb: read batch by batch)" : ""))
                    return splits
                }
                log("images: \(listing.root) changed since \(path) was written; decoding again")
            } catch {
                log("images: the cache \(path) is unreadable (\(error)); decoding again")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        } catch {
            throw KDError(file: cacheDir, "cannot create the folder for decoded images (set image_cache_dir to a writable folder)")
        }
        let start = Date()
        var skipped: [String] = []
        try AtomicWrite.write(to: path) { tmp in
            let store = try ImageStore.Writer(path: tmp, classNames: listing.classNames)
            let progress = DecodeState(count: listing.train.count + (listing.val?.count ?? 0) + listing.test.count)
            for (split, entries) in [("train", listing.train)] + (listing.val.map { [("val", $0)] } ?? []) + [("test", listing.test)] {
                skipped += try decode(entries, split: split, into: store, listing: listing, options: options, progress: progress)
            }
            try store.file.setAttribute("format_version", .int(formatVersion))
            try store.file.setAttribute("files_fingerprint", .string(fingerprint))
            try store.file.setAttribute("root", .string(listing.root))
            try store.file.setAttribute("layout", .string(listing.layout.rawValue))
            try store.file.setAttribute("skipped", .string(skipped.joined(separator: "\n")))
            try store.finish()
        }
        let seconds = Date().timeIntervalSince(start)
        let total = listing.train.count + (listing.val?.count ?? 0) + listing.test.count
        log(String(format: "images: decoded %d files in %.1f s (%.0f images/s, %d threads), cached in %@", total, seconds,
                   Double(total) / max(seconds, 1e-9), ProcessInfo.processInfo.activeProcessorCount, path))
        if !skipped.isEmpty {
            log("images: skipped \(skipped.count) unreadable image(s) (skip_bad_images): " + skipped.joined(separator: "; "))
        }
        guard var splits = try read(path, fingerprint: fingerprint, name: name, options: options, log: { _ in }) else {
            throw KDError(file: path, "the cache just written does not read back")
        }
        splits.decoded = true
        return splits
    }

    /// Where the cache of `listing` with `options` lives.
    public static func cachePath(_ listing: ImageFolderListing, options: ImageFolderOptions, in dir: String) -> String {
        let root = URL(fileURLWithPath: listing.root).standardizedFileURL.path
        var h = SHA256()
        h.update(Array("\(root)\n\(listing.layout.rawValue)\n\(options.size)\n\(options.channels)\n\(options.skipBadImages)".utf8))
        if options.resize != .stretch { h.update(Array("\n\(options.resize.rawValue)".utf8)) }  // older caches keep their names
        let base = URL(fileURLWithPath: root).lastPathComponent.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        return dir + "/" + (base.isEmpty ? "images" : base) + "-" + h.finalizeHex().prefix(16) + ".h5"
    }

    /// SHA-256 over the options and every file's relative path, label, size and modification time.
    static func filesFingerprint(_ listing: ImageFolderListing, options: ImageFolderOptions) throws -> String {
        var h = SHA256()
        h.update(Array("kd-pipeline image cache \(formatVersion)\n\(listing.layout.rawValue)\n\(options.size)\n\(options.channels)\n\(options.skipBadImages)\n\(listing.classNames.joined(separator: "\n"))\n".utf8))
        if options.resize != .stretch { h.update(Array("resize \(options.resize.rawValue)\n".utf8)) }
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

    /// Decodes `entries` on every core, a block at a time, into split `split` of `store`;
    /// returns the images left out (`skip_bad_images`).
    private static func decode(_ entries: [ImageFolderListing.Entry], split: String, into store: ImageStore.Writer,
                               listing: ImageFolderListing, options: ImageFolderOptions, progress: DecodeState) throws -> [String] {
        let imageSize = options.channels * options.size * options.size
        try store.begin(split, count: entries.count, shape: [options.channels, options.size, options.size])
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(min(entries.count, blockImages) * imageSize, 1))
        defer { buffer.deallocate() }
        nonisolated(unsafe) let output = buffer
        var skipped: [String] = [], files: [String] = []
        for first in stride(from: 0, to: entries.count, by: blockImages) {
            let block = Array(entries[first..<min(first + blockImages, entries.count)])
            let errors = ErrorList()
            DispatchQueue.concurrentPerform(iterations: block.count) { i in
                let path = listing.root + "/" + block[i].path
                do {
                    var image = try ImageDecoder.decode(path)
                    image = options.resize == .stretch ? ImageResize.bilinear(image, width: options.size, height: options.size)
                        : ImageResize.shorterSideThenCenter(image, size: options.size)
                    let planes = image.planes(channels: options.channels)
                    planes.withUnsafeBufferPointer { (output + i * imageSize).update(from: $0.baseAddress!, count: imageSize) }
                    progress.finish(error: false)
                } catch {
                    errors.add(first + i, "\(error)")
                    progress.finish(error: true)
                }
            }
            let bad = errors.byIndex
            if !options.skipBadImages, let firstBad = bad.keys.min() {
                let more = bad.count > 1 ? " (and \(bad.count - 1) more unreadable images in this block; skip_bad_images: true leaves them out)" : ""
                throw KDError(bad[firstBad]! + more)
            }
            // Good images close up over the bad ones, in order.
            var kept: [Int32] = []
            for i in block.indices {
                if let e = bad[first + i] { skipped.append(e); continue }
                if kept.count != i { (output + kept.count * imageSize).update(from: output + i * imageSize, count: imageSize) }
                kept.append(Int32(block[i].label))
                files.append(block[i].path)
            }
            try store.append(buffer, labels: kept)
        }
        guard !files.isEmpty else { throw KDError(file: listing.root, "no readable images in the \(split) split") }
        let names = Array(files.joined(separator: "\n").utf8)
        try store.file.write(split + "/files", names, shape: [names.count])
        return skipped
    }

    /// The cached splits, or nil when the cache belongs to other files.
    private static func read(_ path: String, fingerprint: String, name: String, options: ImageFolderOptions,
                             log: (String) -> Void) throws -> Splits? {
        let f = try HDF5File.open(path)
        guard try f.intAttribute("format_version") == formatVersion, try f.stringAttribute("files_fingerprint") == fingerprint else {
            return nil
        }
        let skipped = try f.stringAttribute("skipped")
        if !skipped.isEmpty {
            log("images: left out when the cache was built (skip_bad_images): " + skipped.split(separator: "\n").joined(separator: "; "))
        }
        let sets = try ImageStore.load(f, name: name, memoryBudget: options.memoryBudget)
        for set in [sets.train, sets.test] + (sets.val.map { [$0] } ?? []) where set.imageShape != [options.channels, options.size, options.size] {
            throw KDError(file: path, "holds images of shape \(set.imageShape), expected [\(options.channels), \(options.size), \(options.size)]")
        }
        return Splits(train: sets.train, val: sets.val, test: sets.test, decoded: false, cachePath: path)
    }
}

/// The decoding errors of one block, by image.
private final class ErrorList: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Int: String] = [:]

    func add(_ index: Int, _ message: String) { lock.lock(); errors[index] = message; lock.unlock() }
    var byIndex: [Int: String] { lock.lock(); defer { lock.unlock() }; return errors }
}

/// Counts decoded images and prints progress to standard error every 5 seconds.
private final class DecodeState: @unchecked Sendable {
    private let lock = NSLock()
    private let count: Int
    private var done = 0
    private var lastReport = Date()
    private let start = Date()

    init(count: Int) { self.count = count }

    func finish(error: Bool) {
        lock.lock(); defer { lock.unlock() }
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
