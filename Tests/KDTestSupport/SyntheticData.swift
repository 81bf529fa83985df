import Foundation
import Engine
import Pipeline

/// Small datasets written in the real on-disk formats, for tests of the readers and stages.
public enum SyntheticData {
    public static func bigEndian(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }

    /// IDX images file bytes: magic 2051, count, rows, cols, pixels.
    public static func idxImages(count: Int, rows: Int, cols: Int, pixels: [UInt8], magic: Int = 2051) -> [UInt8] {
        bigEndian(magic) + bigEndian(count) + bigEndian(rows) + bigEndian(cols) + pixels
    }

    /// IDX labels file bytes: magic 2049, count, labels.
    public static func idxLabels(_ labels: [UInt8], magic: Int = 2049) -> [UInt8] {
        bigEndian(magic) + bigEndian(labels.count) + labels
    }

    /// Images whose pixels encode (sample, position) and labels that cycle through the classes.
    public static func images(count: Int, size: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRNG(seed: seed)
        return (0..<count * size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Writes a Fashion-MNIST-shaped folder (four IDX files, gzip'ed when `gzip`) with
    /// `train` and `test` samples of rows x cols and `classes` classes.
    @discardableResult
    public static func writeIDXFolder(_ dir: String, train: Int, test: Int, rows: Int = 8, cols: Int = 8,
                               classes: Int = 10, gzip: Bool = true, seed: UInt64 = 1) throws -> (train: Dataset, test: Dataset) {
        var made: [Dataset] = []
        for (prefix, n) in [("train", train), ("t10k", test)] {
            let pixels = images(count: n, size: rows * cols, seed: seed &+ UInt64(n))
            let labels = (0..<n).map { UInt8(($0 * 7 + 3) % classes) }
            let img = dir + "/\(prefix)-images-idx3-ubyte", lab = dir + "/\(prefix)-labels-idx1-ubyte"
            try write(idxImages(count: n, rows: rows, cols: cols, pixels: pixels), to: img)
            try write(idxLabels(labels), to: lab)
            if gzip {
                for p in [img, lab] {
                    let r = try TestSupport.run("gzip", ["-f", "-n", p])
                    precondition(r.status == 0, r.output)
                }
            }
            made.append(Dataset(name: "synthetic", images: pixels, labels: labels, channels: 1, height: rows,
                                width: cols, classNames: (0..<classes).map(String.init)))
        }
        return (made[0], made[1])
    }

    /// CIFAR-10 binary records: label byte then 3072 pixel bytes.
    public static func cifarRecords(labels: [UInt8], seed: UInt64) -> [UInt8] {
        let pixels = images(count: labels.count, size: 3072, seed: seed)
        var out = [UInt8]()
        for (i, l) in labels.enumerated() {
            out.append(l)
            out += pixels[(i * 3072)..<((i + 1) * 3072)]
        }
        return out
    }
}
