/// What a classifier's logits predict: the arg-max class of a row, and the accuracy of rows
/// against labels. One definition for training, evaluation, export and the reports.
public enum Predictions {
    /// Index of the largest of `k` values (the first one on ties).
    public static func argmax(_ row: UnsafePointer<Float>, classes k: Int) -> Int {
        var best = 0
        for j in 1..<k where row[j] > row[best] { best = j }
        return best
    }

    /// The arg-max of row `row` of row-major logits with `k` columns.
    public static func argmax(_ logits: [Float], row: Int, classes k: Int) -> Int {
        logits.withUnsafeBufferPointer { argmax($0.baseAddress! + row * k, classes: k) }
    }

    /// Fraction of rows whose arg-max logit is the label.
    public static func accuracy(logits: [Float], labels: [Int32], classes k: Int) -> Double {
        guard !labels.isEmpty else { return 0 }
        let correct = labels.indices.filter { argmax(logits, row: $0, classes: k) == Int(labels[$0]) }.count
        return Double(correct) / Double(labels.count)
    }
}
