import Engine
/// Splits a split's sample indices into batches, reshuffled every epoch from (seed, epoch).
///
/// Deriving each epoch's order from the seed and the epoch number (not from a running
/// generator) is what lets a resumed run see exactly the batches an uninterrupted one saw.
public struct BatchSampler: Sendable {
    public let count: Int
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64

    public init(count: Int, batchSize: Int, shuffle: Bool, seed: UInt64) {
        precondition(batchSize > 0, "batch size must be positive")
        self.count = count
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
    }

    /// Number of batches per epoch (the last one may be smaller).
    public var batchesPerEpoch: Int { (count + batchSize - 1) / batchSize }

    /// The sample indices of every batch of `epoch`, in order.
    public func batches(epoch: Int) -> [[Int]] {
        var order = Array(0..<count)
        if shuffle {
            var rng = SeededRNG(seed: seed, stream: 0xBA7C_0000, UInt64(epoch))
            rng.shuffle(&order)
        }
        return stride(from: 0, to: count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, count)]) }
    }
}
