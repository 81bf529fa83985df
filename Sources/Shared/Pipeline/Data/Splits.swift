import Engine
/// The three splits every stage works with.
public enum SplitName: String, CaseIterable, Codable, Sendable {
    case train, val, test
}

/// Train / validation / test, carved deterministically from a dataset's official sets.
///
/// `val` is the dataset's own validation set when it has one (a folder dataset's `val/`),
/// else a seeded, stratified hold-out from the official training set, and `train` is all the
/// rest. Both keep the official file order (their "canonical order"), which is the row order of
/// every logits file. A run that trains on a fraction of `train` takes `subsetIndices`, so its
/// samples keep their row numbers in the teacher's logits.
public struct DatasetSplits: Sendable {
    public let train: Dataset
    public let val: Dataset
    public let test: Dataset
    /// Row of each `train` sample in the official training file.
    public let trainSourceIndices: [Int]
    /// Row of each `val` sample in the official training file (in the official validation set
    /// when the dataset has one).
    public let valSourceIndices: [Int]
    public let seed: UInt64

    /// - Parameters:
    ///   - valCount: size of the hold-out (0 for none).
    ///   - seed: the split seed; the same seed gives the same splits on any machine.
    public init(officialTrain: Dataset, officialTest: Dataset, valCount: Int = 5000, seed: UInt64) throws {
        guard valCount >= 0, valCount < officialTrain.count else {
            throw KDError("validation size \(valCount) must be in 0..<\(officialTrain.count) (the training set's size)")
        }
        var rng = SeededRNG(seed: seed, stream: 0x5EED_0001)
        let all = Array(0..<officialTrain.count)
        let valIdx = Stratified.sample(all, labels: officialTrain.labels, count: valCount,
                                       numClasses: officialTrain.numClasses, rng: &rng)
        let inVal = Set(valIdx)
        let rest = all.filter { !inVal.contains($0) }
        self.trainSourceIndices = rest
        self.valSourceIndices = valIdx
        self.train = officialTrain.subset(rest)
        self.val = officialTrain.subset(valIdx)
        self.test = officialTest
        self.seed = seed
    }

    /// Splits of a dataset that has its own validation set: each official set as it is.
    public init(officialTrain: Dataset, officialVal: Dataset, officialTest: Dataset, seed: UInt64) {
        self.train = officialTrain
        self.val = officialVal
        self.test = officialTest
        self.trainSourceIndices = Array(0..<officialTrain.count)
        self.valSourceIndices = Array(0..<officialVal.count)
        self.seed = seed
    }

    /// A seeded, stratified `fraction` of `train`, as ascending row numbers of `train`
    /// (all rows for fraction 1).
    public func subsetIndices(fraction: Double) throws -> [Int] {
        guard fraction > 0, fraction <= 1 else { throw KDError("subset fraction \(fraction) must be in (0, 1]") }
        let all = Array(0..<train.count)
        guard fraction < 1 else { return all }
        var rng = SeededRNG(seed: seed, stream: 0x5EED_0002)
        let keep = max(1, Int((Double(train.count) * fraction).rounded()))
        return Stratified.sample(all, labels: train.labels, count: keep, numClasses: train.numClasses, rng: &rng)
    }

    public subscript(_ split: SplitName) -> Dataset {
        switch split {
        case .train: return train
        case .val: return val
        case .test: return test
        }
    }
}

/// Seeded stratified sampling without replacement.
public enum Stratified {
    /// Picks `count` of `candidates` so that each class keeps its share (largest-remainder
    /// rounding, ties to the lower class), returned in ascending order.
    public static func sample(_ candidates: [Int], labels: [Int32], count: Int, numClasses: Int,
                              rng: inout SeededRNG) -> [Int] {
        precondition(count >= 0 && count <= candidates.count)
        var byClass = [[Int]](repeating: [], count: numClasses)
        for i in candidates { byClass[Int(labels[i])].append(i) }
        let total = Double(candidates.count)
        let exact = byClass.map { Double($0.count) * Double(count) / total }
        var quota = exact.map { Int($0.rounded(.down)) }
        var missing = count - quota.reduce(0, +)
        let order = (0..<numClasses).sorted { a, b in
            let ra = exact[a] - Double(quota[a]), rb = exact[b] - Double(quota[b])
            return ra != rb ? ra > rb : a < b
        }
        for c in order where missing > 0 && quota[c] < byClass[c].count {
            quota[c] += 1; missing -= 1
        }
        var chosen = [Int]()
        chosen.reserveCapacity(count)
        for c in 0..<numClasses {
            var members = byClass[c]
            rng.shuffle(&members)
            chosen += members.prefix(quota[c])
        }
        return chosen.sorted()
    }
}
