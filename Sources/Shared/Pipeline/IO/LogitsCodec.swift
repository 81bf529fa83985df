import Engine
import Foundation

/// One row dataset of a logits file, as an encoding stores it.
struct LogitsPart: Equatable {
    let name: String
    /// Bytes of one element and elements per row.
    let elementBytes: Int
    let perRow: Int
    let isInteger: Bool
    /// One value per row with no axis of its own (`topk_rest` [N] or [N, V]).
    var isScalarPerRow = false
    /// The dataset's shape for rows of shape `rowShape` ([N] or [N, V]).
    func shape(rows rowShape: [Int]) -> [Int] { isScalarPerRow ? rowShape : rowShape + [perRow] }
    /// The root attribute holding the SHA-256 of the dataset's bytes.
    var checksumAttribute: String { name + "_sha256" }
    var rowBytes: Int { elementBytes * perRow }
}

/// Turns float32 logit rows into an encoding's stored parts and back.
struct LogitsCodec {
    let encoding: LogitsEncoding
    let classes: Int
    let parts: [LogitsPart]

    init(_ encoding: LogitsEncoding, classes: Int) {
        precondition(encoding.topK.map { (1...classes).contains($0) } ?? true, "top-k of 1 to \(classes) classes")
        self.encoding = encoding
        self.classes = classes
        let v = encoding.values.bytes
        if let k = encoding.topK {
            parts = [LogitsPart(name: "topk_values", elementBytes: v, perRow: k, isInteger: false),
                     LogitsPart(name: "topk_indices", elementBytes: classes <= 32768 ? 2 : 4, perRow: k, isInteger: true),
                     LogitsPart(name: "topk_rest", elementBytes: v, perRow: 1, isInteger: false, isScalarPerRow: true)]
        } else {
            parts = [LogitsPart(name: "logits", elementBytes: v, perRow: classes, isInteger: false)]
        }
    }

    /// Bytes one row takes on disk, over every part.
    var rowBytes: Int { parts.reduce(0) { $0 + $1.rowBytes } }

    /// Whether rows are stored exactly as the float32 values they decode to.
    var isPlainFloat32: Bool { encoding == .dense }

    /// Encodes `count` rows of `logits` ([count, K]) into `parts` (one buffer per part, room for
    /// `count` rows). Fails when a finite logit does not fit the value type.
    func encode(_ logits: UnsafePointer<Float>, count: Int, into parts: [UnsafeMutableRawPointer]) throws {
        let k = encoding.topK ?? classes
        var order = [Int](repeating: 0, count: k)
        for r in 0..<count {
            let row = logits + r * classes
            guard let top = encoding.topK else {
                try store(row, count: classes, at: parts[0] + r * self.parts[0].rowBytes)
                continue
            }
            Self.largest(row, classes: classes, k: top, into: &order)
            let values = order.map { row[$0] }
            try values.withUnsafeBufferPointer { try store($0.baseAddress!, count: top, at: parts[0] + r * self.parts[0].rowBytes) }
            let indices = parts[1] + r * self.parts[1].rowBytes
            for (j, c) in order.enumerated() {
                if self.parts[1].elementBytes == 2 { indices.storeBytes(of: Int16(c), toByteOffset: 2 * j, as: Int16.self) }
                else { indices.storeBytes(of: Int32(c), toByteOffset: 4 * j, as: Int32.self) }
            }
            var rest = Float(Self.logMeanExp(row, classes: classes, excluding: order))
            try store(&rest, count: 1, at: parts[2] + r * self.parts[2].rowBytes)
        }
    }

    /// Decodes `count` stored rows (`parts`, one pointer per part) into float32 rows [count, K].
    func decode(_ parts: [UnsafeRawPointer], count: Int, into logits: UnsafeMutablePointer<Float>) {
        for r in 0..<count {
            let row = logits + r * classes
            guard let k = encoding.topK else {
                load(parts[0] + r * self.parts[0].rowBytes, count: classes, into: row)
                continue
            }
            var rest: Float = 0
            load(parts[2] + r * self.parts[2].rowBytes, count: 1, into: &rest)
            row.update(repeating: rest, count: classes)
            var values = [Float](repeating: 0, count: k)
            load(parts[0] + r * self.parts[0].rowBytes, count: k, into: &values)
            for j in 0..<k { row[classIndex(parts[1], row: r, position: j)] = values[j] }
        }
    }

    /// What is wrong with stored row `r`, if anything: a top-k row's classes must be distinct
    /// and in range, its values descending and `topk_rest` no larger than the last of them (a
    /// mean of the smaller logits). Dense rows have nothing to check beyond their values.
    func problem(_ parts: [UnsafeRawPointer], row r: Int) -> String? {
        guard let k = encoding.topK else { return nil }
        let kept = (0..<k).map { classIndex(parts[1], row: r, position: $0) }.sorted()
        if let c = kept.first(where: { !(0..<classes).contains($0) }) { return "topk_indices holds class \(c), outside 0..<\(classes)" }
        if let j = (1..<max(k, 1)).first(where: { kept[$0] == kept[$0 - 1] }) { return "topk_indices holds class \(kept[j]) twice" }
        var values = [Float](repeating: 0, count: k + 1)
        load(parts[0] + r * self.parts[0].rowBytes, count: k, into: &values)
        load(parts[2] + r * self.parts[2].rowBytes, count: 1, into: &values[k])
        if let j = (1..<k).first(where: { values[$0] > values[$0 - 1] }) {
            return "topk_values are not in descending order (position \(j))"
        }
        if k < classes && values[k] > values[k - 1] {
            return "topk_rest (\(values[k])) is above the smallest stored logit (\(values[k - 1]))"
        }
        return nil
    }

    /// For a top-k row, without rebuilding it: the arg-max of the rebuilt row (the first class of
    /// the largest value, as `Predictions.argmax` picks it) and its first non-finite value.
    func summary(_ parts: [UnsafeRawPointer], row r: Int) -> (argmax: Int, nonFinite: Float?) {
        let k = encoding.topK!
        var values = [Float](repeating: 0, count: k + 1)
        load(parts[0] + r * self.parts[0].rowBytes, count: k, into: &values)
        load(parts[2] + r * self.parts[2].rowBytes, count: 1, into: &values[k])
        let used = k < classes ? values : Array(values.prefix(k))
        let nonFinite = used.first { !$0.isFinite }
        let top = used.max()!
        let stored = (0..<k).map { classIndex(parts[1], row: r, position: $0) }
        var best = stored.indices.filter { values[$0] == top }.map { stored[$0] }.min() ?? Int.max
        if k < classes && values[k] == top {  // the first class left out also holds the top value
            let kept = Set(stored)
            best = min(best, (0..<classes).first { !kept.contains($0) }!)
        }
        return (best == Int.max ? 0 : best, nonFinite)
    }

    private func classIndex(_ indices: UnsafeRawPointer, row r: Int, position j: Int) -> Int {
        let p = indices + r * parts[1].rowBytes
        return parts[1].elementBytes == 2 ? Int(p.loadUnaligned(fromByteOffset: 2 * j, as: Int16.self))
                                          : Int(p.loadUnaligned(fromByteOffset: 4 * j, as: Int32.self))
    }

    private func store(_ values: UnsafePointer<Float>, count: Int, at destination: UnsafeMutableRawPointer) throws {
        guard encoding.values == .float16 else {
            destination.copyMemory(from: values, byteCount: 4 * count)
            return
        }
        for i in 0..<count {
            let h = Float16(values[i])
            if h.isInfinite && values[i].isFinite {
                throw KDError("logit \(values[i]) is beyond float16's range (65504): export with --dtype float32")
            }
            destination.storeBytes(of: h, toByteOffset: 2 * i, as: Float16.self)
        }
    }

    private func load(_ source: UnsafeRawPointer, count: Int, into values: UnsafeMutablePointer<Float>) {
        if encoding.values == .float32 {
            UnsafeMutableRawPointer(values).copyMemory(from: source, byteCount: 4 * count)
        } else {
            for i in 0..<count { values[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
        }
    }

    /// The classes of the `k` largest logits of `row`, largest first; equal logits in class order.
    static func largest(_ row: UnsafePointer<Float>, classes: Int, k: Int, into order: inout [Int]) {
        func before(_ a: Int, _ b: Int) -> Bool { row[a] > row[b] || (row[a] == row[b] && a < b) }
        guard k * 8 < classes else {
            let sorted = (0..<classes).sorted(by: before)
            for j in 0..<k { order[j] = sorted[j] }
            return
        }
        var n = 0  // insertion into the k best so far
        for c in 0..<classes {
            guard n < k || before(c, order[k - 1]) else { continue }
            var j = min(n, k - 1)
            while j > 0 && before(c, order[j - 1]) { order[j] = order[j - 1]; j -= 1 }
            order[j] = c
            n = min(n + 1, k)
        }
    }

    /// log(mean(exp(row[c]))) over the classes not in `kept`, in float64; 0 when none is left.
    static func logMeanExp(_ row: UnsafePointer<Float>, classes: Int, excluding kept: [Int]) -> Double {
        guard kept.count < classes else { return 0 }
        var isKept = [Bool](repeating: false, count: classes)
        for c in kept { isKept[c] = true }
        var m = -Double.infinity
        for c in 0..<classes where !isKept[c] { m = max(m, Double(row[c])) }
        var sum = 0.0
        for c in 0..<classes where !isKept[c] { sum += exp(Double(row[c]) - m) }
        return m + log(sum / Double(classes - kept.count))
    }
}
