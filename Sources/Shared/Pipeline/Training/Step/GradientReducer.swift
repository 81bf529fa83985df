import Engine

/// Where a batch's gradients meet before the update. Alone and in one part, the parameters'
/// gradient arena as backward left it. With several parts (`micro_batches`) or processes (MPI),
/// each part's gradient is weighted by its share of the batch and summed, here and then over the
/// processes (one MPI_Allreduce over the flat arena): the mean over the whole batch, so every
/// process applies the same update to the same weights.
final class GradientReducer {
    let cluster: Cluster
    private let store: ParameterStore
    private var sum: [Float] = []
    private var summing = false

    init(store: ParameterStore, cluster: Cluster) {
        self.store = store
        self.cluster = cluster
    }

    /// Starts a batch that runs in `parts` parts in this process.
    func begin(parts: Int) {
        summing = parts > 1 || cluster.isDistributed
        guard summing else { return }
        if sum.count != store.parameterCount { sum = [Float](repeating: 0, count: store.parameterCount) }
        sum.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Takes the gradient backward just left in the arena, a part holding `weight` of the batch.
    func add(weight: Float) {
        guard summing else { return }
        let arena = store.grads!, count = store.parameterCount
        sum.withUnsafeMutableBufferPointer { acc in
            for i in 0..<count { acc[i] += arena[i] * weight }
        }
    }

    /// Leaves the batch's gradient in the arena, summed over the processes.
    func finish() {
        guard summing else { return }
        let arena = store.grads!, count = store.parameterCount
        sum.withUnsafeBufferPointer { arena.update(from: $0.baseAddress!, count: count) }
        cluster.allreduceSum(arena, count: count)
    }
}
