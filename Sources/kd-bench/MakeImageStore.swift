import ArgumentParser
import Engine
import Foundation
import Pipeline

/// `kd-bench make-store`: a generated dataset of any size in `ImageStore`'s layout, for the
/// scale benchmark and the tests. Each class has a random template (a coarse colour pattern);
/// an image is its class's template plus noise, so a small CNN learns it. Written a block at a
/// time, atomically.
struct MakeImageStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-store",
        abstract: "Write a generated image dataset (an image-store: <out>/images.h5) of any size, block by block.")

    @Option(help: "The folder to write images.h5 into (created).")
    var out: String

    @Option(help: "Training images.")
    var train: Int = 10_000

    @Option(help: "Validation images (its own split; 0 for none, then stages hold out val_size from train).")
    var val: Int = 0

    @Option(help: "Test images.")
    var test: Int = 1_000

    @Option(help: "Classes.")
    var classes: Int = 1_000

    @Option(help: "Side of the square images.")
    var size: Int = 32

    @Option(help: "Channels (1 or 3).")
    var channels: Int = 3

    @Option(help: "Seed of the templates and the noise.")
    var seed: UInt64 = 1

    func validate() throws {
        guard train > 0, test > 0, val >= 0, classes >= 2, size >= 4, [1, 3].contains(channels) else {
            throw ValidationError("need --train and --test above 0, --classes of 2 or more, --size of 4 or more, --channels 1 or 3")
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = (out as NSString).appendingPathComponent(ImageStore.fileName)
        let imageSize = channels * size * size
        let templates = Self.templates(classes: classes, channels: channels, size: size, seed: seed)
        let block = 4096
        var buffer = [UInt8](repeating: 0, count: block * imageSize)
        try AtomicWrite.write(to: path) { tmp in
            let store = try ImageStore.Writer(path: tmp, classNames: (0..<classes).map { String(format: "class%04d", $0) })
            for (k, (split, count)) in [("train", train), ("val", val), ("test", test)].enumerated() where count > 0 {
                try store.begin(split, count: count, shape: [channels, size, size])
                var rng = SeededRNG(seed: seed, stream: 0x570E, UInt64(k))
                for first in stride(from: 0, to: count, by: block) {
                    let n = min(block, count - first)
                    var labels = [Int32]()
                    for i in 0..<n {
                        let label = Int(rng.next() % UInt64(classes))
                        labels.append(Int32(label))
                        for p in 0..<imageSize {
                            let noise = Int(rng.next() % 64) - 32
                            buffer[i * imageSize + p] = UInt8(clamping: Int(templates[label * imageSize + p]) + noise)
                        }
                    }
                    try buffer.withUnsafeBytes { try store.append($0.baseAddress!, labels: labels) }
                }
            }
            try store.finish()
        }
        print("wrote \(path): \(train) train, \(val) val, \(test) test images of \(channels)x\(size)x\(size), \(classes) classes")
    }

    /// A template per class: 4x4 cells of random colours, scaled up to the image.
    static func templates(classes: Int, channels: Int, size: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRNG(seed: seed, stream: 0x7E4D)
        let imageSize = channels * size * size
        var out = [UInt8](repeating: 0, count: classes * imageSize)
        for c in 0..<classes {
            let cells = (0..<(16 * channels)).map { _ in UInt8(32 + rng.next() % 192) }
            for ch in 0..<channels {
                for y in 0..<size {
                    for x in 0..<size {
                        let cell = (y * 4 / size) * 4 + x * 4 / size
                        out[c * imageSize + (ch * size + y) * size + x] = cells[cell * channels + ch]
                    }
                }
            }
        }
        return out
    }
}
