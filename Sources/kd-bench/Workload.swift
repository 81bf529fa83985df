import Engine
import Pipeline

/// One model on a fixed random batch of images (1x28x28 unless told): the training step (forward, CE + KD
/// loss against stored teacher logits, backward, SGD with momentum) and the evaluation pass
/// that `kd-bench` times and audits. The PyTorch peer (scripts/bench_pytorch.py) runs the same.
final class Workload {
    let net: Model
    private let images: Tensor
    private let labels: [Int32]
    private let teacher: [Float]
    private let gradient: Tensor
    private let optimizer: Optimizer
    private let loss = DistillationLoss(alpha: 0.9, temperature: 4)

    init(model: String, batch: Int, input: [Int] = [1, 28, 28], classes: Int = 10) throws {
        net = try ModelRegistry.make(model, inputShape: input, numClasses: classes)
        var rng = SeededRNG(seed: 1)
        let size = input.reduce(1, *)
        images = Tensor(shape: [batch] + input, values: (0..<batch * size).map { _ in Float(rng.normal()) })
        labels = (0..<batch).map { _ in Int32(rng.below(classes)) }
        teacher = (0..<batch * classes).map { _ in Float(rng.normal() * 3) }
        gradient = Tensor(.plain([batch, classes]))
        optimizer = Optimizer(.sgd, store: net.store, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
    }

    func step(_ mode: Mode) {
        guard mode == .train else { _ = net.forward(images, mode: .eval); return }
        net.store.zeroGrads()
        let logits = net.forward(images, mode: .train)
        _ = teacher.withUnsafeBufferPointer {
            loss.compute(student: logits.floats, teacher: $0.baseAddress, labels: labels, classes: net.numClasses, gradient: gradient.floats)
        }
        net.backward(gradient)
        optimizer.update()
    }
}
