import ArgumentParser
import Foundation
import Shared

/// Training and inference throughput of a model on random 1x28x28 batches, one JSON line per
/// measurement. `make bench` runs it interleaved with scripts/bench_pytorch.py.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kd-bench",
        abstract: "Measure training and inference images/s of a model (the Swift side of `make bench`)."
    )

    @Option(help: "Model name from the registry.")
    var model: String = "cnn5"

    @Option(help: "Images per batch.")
    var batch: Int = 128

    @Option(help: "Seconds to time each mode, after warm-up.")
    var seconds: Double = 5

    @Option(help: "Which modes to measure: train, infer or both.")
    var mode: [String] = ["train", "infer"]

    func run() throws {
        let classes = 10
        let net = try ModelRegistry.make(model, inputShape: [1, 28, 28], numClasses: classes)
        var rng = SeededRNG(seed: 1)
        let images = Tensor(shape: [batch, 1, 28, 28], values: (0..<batch * 784).map { _ in Float(rng.normal()) })
        let labels = (0..<batch).map { _ in Int32(rng.below(classes)) }
        let teacher = (0..<batch * classes).map { _ in Float(rng.normal() * 3) }
        let gradient = Tensor(.plain([batch, classes]))
        let optimizer = Optimizer(.sgd, store: net.store, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
        let loss = DistillationLoss(alpha: 0.9, temperature: 4)

        func trainStep() {
            net.store.zeroGrads()
            let logits = net.forward(images, mode: .train)
            _ = teacher.withUnsafeBufferPointer {
                loss.compute(student: logits.floats, teacher: $0.baseAddress, labels: labels, classes: classes, gradient: gradient.floats)
            }
            net.backward(gradient)
            optimizer.update()
        }
        func inferStep() { _ = net.forward(images, mode: .eval) }

        for m in mode {
            let step = m == "train" ? trainStep : inferStep
            for _ in 0..<3 { step() }
            let start = DispatchTime.now().uptimeNanoseconds
            var steps = 0
            var elapsed = 0.0
            repeat {
                step()
                steps += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds
            let imagesPerSecond = Double(steps * batch) / elapsed
            // Training: forward, backward-data (all but the first layer) and backward-weights, about 3x forward.
            let flopsPerImage = Double(net.lastForwardFLOPs) / Double(batch) * (m == "train" ? 3 : 1)
            let line: [String: Any] = ["impl": "swift", "model": model, "mode": m, "batch": batch,
                                       "images_per_s": (imagesPerSecond * 10).rounded() / 10,
                                       "gflops": (imagesPerSecond * flopsPerImage / 1e8).rounded() / 10,
                                       "steps": steps, "peak_rss_mib": peakRSSMiB()]
            let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }

    /// The process's peak resident set size so far.
    private func peakRSSMiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024  // kilobytes on Linux
    }
}
