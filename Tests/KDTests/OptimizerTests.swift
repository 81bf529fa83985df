import KDTestSupport
import XCTest
import Engine
import Pipeline

/// torch.optim's update rules and schedules, from Tests/Fixtures/optimizers.h5.
final class OptimizerTests: XCTestCase {
    func testEveryOptimizerSettingMatchesTorchOptim() throws {
        let f = try HDF5File.open(TestSupport.fixtures + "/optimizers.h5")
        let initial = try f.read("initial", as: Float.self).values
        let grads = try f.read("grads", as: Float.self).values
        let n = initial.count
        let settings: [String: (ParameterStore) -> Optimizer] = [
            "sgd_plain": { Optimizer(.sgd, store: $0, learningRate: 0.1) },
            "sgd_momentum_wd": { Optimizer(.sgd, store: $0, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-2) },
            "sgd_nesterov": { Optimizer(.sgd, store: $0, learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4) },
            "adam": { Optimizer(.adam, store: $0, learningRate: 1e-2) },
            "adam_wd": { Optimizer(.adam, store: $0, learningRate: 1e-2, weightDecay: 1e-2, beta1: 0.8, beta2: 0.99, epsilon: 1e-6) },
            "adamw": { Optimizer(.adamw, store: $0, learningRate: 1e-2, weightDecay: 0.05) },
        ]
        for (name, make) in settings {
            let store = ParameterStore()
            store.add("p", shape: [n], initial: initial)
            store.finalize()
            let opt = make(store)
            let expected = try f.read(name, as: Float.self).values
            for step in 0..<5 {
                for i in 0..<n { store.grads[i] = grads[step * n + i] }
                opt.update()
                LayerCheck.assertClose(store.array("p")!, Array(expected[(step * n)..<((step + 1) * n)]), tolerance: 1e-5, "\(name) step \(step + 1)")
            }
        }
    }

    func testSchedulesMatchTorchSchedulers() throws {
        let f = try HDF5File.open(TestSupport.fixtures + "/optimizers.h5")
        var step = LRSchedule(kind: .step); step.stepSize = 3; step.gamma = 0.5
        var multi = LRSchedule(kind: .multistep); multi.milestones = [2, 5, 9]; multi.gamma = 0.1
        var cosine = LRSchedule(kind: .cosine); cosine.totalEpochs = 12; cosine.minLR = 1e-3
        var warmup = LRSchedule(kind: .constant); warmup.warmupEpochs = 4; warmup.warmupStartFactor = 0.25
        for (name, schedule) in [("step", step), ("multistep", multi), ("cosine", cosine), ("warmup", warmup)] {
            let expected = try f.read("lr_" + name, as: Double.self).values
            let ours = (0..<12).map { schedule.rate(base: 0.2, epoch: $0) }
            for (e, (a, b)) in zip(ours, expected).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-9, "\(name) epoch \(e): \(ours) vs \(expected)")
            }
        }
    }
}
