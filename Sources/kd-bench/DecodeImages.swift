import ArgumentParser
import Foundation
import Pipeline

/// `kd-bench images`: how fast a folder dataset is decoded and resized on this machine's cores
/// (what the first stage to read a folder spends once; later stages read the cache).
struct DecodeImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Decode and resize every image of an ImageFolder (train/ and test/), without using a cache; print images/s as one JSON line.")

    @Argument(help: "The dataset folder (torchvision ImageFolder layout).")
    var folder: String

    @Option(help: "Side of the square images are resized to.")
    var size: Int = 64

    struct Report: Codable {
        let impl: String, images: Int, size: Int, threads: Int, seconds: Double, images_per_s: Double
    }

    func run() throws {
        let listing = try ImageFolderListing(root: folder, layout: .folder)
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kd-bench-images-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let start = Date()
        let sets = try ImageFolderCache.load(listing, name: "folder", options: ImageFolderOptions(size: size, cacheDirectory: cache)) { _ in }
        let seconds = Date().timeIntervalSince(start)
        let count = sets.train.count + (sets.val?.count ?? 0) + sets.test.count
        let report = Report(impl: "swift", images: count, size: size, threads: ProcessInfo.processInfo.activeProcessorCount,
                            seconds: seconds, images_per_s: Double(count) / seconds)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}
