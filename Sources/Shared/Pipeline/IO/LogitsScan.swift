import Engine

/// One pass over a logits file's rows, in memory or a block at a time from the file: each
/// stored part's SHA-256 (`logits_sha256`, or `topk_values_sha256` and the others), the first
/// non-finite value of the rows a student rebuilds, the first row teacher-export could not have
/// written (`LogitsCodec.problem`), and the share of rows whose arg-max is the row's label
/// (`teacher_accuracy`). What reading and loading check, for any size and encoding.
struct LogitsScan {
    /// One per `LogitsCodec` part, in order.
    let checksums: [String]
    /// (row, value) of the first non-finite logit.
    let firstNonFinite: (row: Int, value: Float)?
    let firstProblem: (row: Int, problem: String)?
    let accuracy: Double

    init(_ file: LogitsFile, codec: LogitsCodec) throws {
        let k = codec.classes
        let labels = LogitsFile.rowLabels(file.labels, perSample: file.viewsPerSample)
        var nonFinite: (Int, Float)?
        var problem: (Int, String)?
        var correct = 0
        func check(row: Int, argmax: Int, nonFiniteValue: Float?) {
            if nonFinite == nil, let v = nonFiniteValue { nonFinite = (row, v) }
            if argmax == Int(labels[row]) { correct += 1 }
        }
        func scan(_ rows: UnsafePointer<Float>, count: Int, firstRow: Int) {
            for r in 0..<count {
                let row = rows + r * k
                check(row: firstRow + r, argmax: Predictions.argmax(row, classes: k),
                      nonFiniteValue: (0..<k).first { !row[$0].isFinite }.map { row[$0] })
            }
        }
        if let stored = file.stored {
            var hashes = codec.parts.map { _ in SHA256() }
            var decoded: [Float] = []
            try stored.forEachBlock { first, n, parts in
                for (i, p) in parts.enumerated() { hashes[i].update(UnsafeRawBufferPointer(start: p, count: n * codec.parts[i].rowBytes)) }
                if problem == nil, let found = (0..<n).lazy.compactMap({ r in codec.problem(parts, row: r).map { (first + r, $0) } }).first {
                    problem = found
                }
                if codec.encoding.topK != nil {  // a top-k row's arg-max is among what it stores
                    for r in 0..<n {
                        let s = codec.summary(parts, row: r)
                        check(row: first + r, argmax: s.argmax, nonFiniteValue: s.nonFinite)
                    }
                    return
                }
                if decoded.count < n * k { decoded = [Float](repeating: 0, count: n * k) }
                decoded.withUnsafeMutableBufferPointer {
                    codec.decode(parts, count: n, into: $0.baseAddress!)
                    scan($0.baseAddress!, count: n, firstRow: first)
                }
            }
            checksums = hashes.map { var h = $0; return h.finalizeHex() }
        } else {
            var h = SHA256()
            file.logits.withUnsafeBufferPointer {
                h.update(UnsafeRawBufferPointer($0))
                if !$0.isEmpty { scan($0.baseAddress!, count: $0.count / max(k, 1), firstRow: 0) }
            }
            checksums = [h.finalizeHex()]
        }
        firstNonFinite = nonFinite
        firstProblem = problem
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
    }
}
