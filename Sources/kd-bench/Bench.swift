import ArgumentParser
import Foundation
import Engine
import Pipeline

/// Developer tool behind `make bench` and the reference-kernel test.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kd-bench",
        abstract: "Measure and audit the engine on random batches (the Swift side of `make bench`).",
        subcommands: [Speed.self, Audit.self, DecodeImages.self, LoadFiles.self, MakeImageStore.self],
        defaultSubcommand: Speed.self
    )
}

/// What a measurement times: a training step or an evaluation forward pass.
enum BenchMode: String, CaseIterable, ExpressibleByArgument {
    case train, infer
    var mode: Mode { self == .train ? .train : .eval }
}

/// One JSON line of `kd-bench speed`.
struct SpeedReport: Codable {
    let impl: String, model: String, mode: String, isa: String
    /// C,H,W of the images.
    let input: String
    let batch: Int, steps: Int
    let images_per_s: Double
    /// Convolution and fully connected GFLOP/s (2 per multiply-add; training counted as 3 forward passes).
    let gflops: Double
    let peak_rss_mib: Int
}

struct Speed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print training and inference images/s of a model, one JSON line per mode.")

    @Option(help: "Model name from the registry.")
    var model: String = "cnn5"

    @Option(help: "Images per batch.")
    var batch: Int = 128

    @Option(help: "Shape of one image, C,H,W (3,32,32 for CIFAR, 3,224,224 for ImageNet sizes).")
    var input: String = "1,28,28"

    func validate() throws {
        guard imageShape != nil else { throw ValidationError("--input takes C,H,W, three whole numbers above 0, such as 3,32,32") }
    }

    var imageShape: [Int]? {
        let parts = input.split(separator: ",").map { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return parts.map { $0! }
    }

    @Option(help: "Seconds to time each mode, after three warm-up steps.")
    var seconds: Double = 5

    @Option(help: "Which modes to measure (train, infer); repeat the option for both.")
    var mode: [BenchMode] = [.train, .infer]

    func run() throws {
        let work = try Workload(model: model, batch: batch, input: imageShape!)
        for m in mode {
            for _ in 0..<3 { work.step(m.mode) }
            let start = DispatchTime.now().uptimeNanoseconds
            var steps = 0
            var elapsed = 0.0
            repeat {
                work.step(m.mode)
                steps += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds
            let imagesPerSecond = Double(steps * batch) / elapsed
            let flopsPerImage = Double(work.net.lastForwardFLOPs) / Double(batch) * (m == .train ? 3 : 1)
            let report = SpeedReport(impl: "swift", model: model, mode: m.rawValue, isa: DNNL.effectiveISA, input: input, batch: batch, steps: steps,
                                     images_per_s: (imagesPerSecond * 10).rounded() / 10,
                                     gflops: (imagesPerSecond * flopsPerImage / 1e8).rounded() / 10,
                                     peak_rss_mib: peakResidentMiB())
            try printJSON(report)
        }
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
