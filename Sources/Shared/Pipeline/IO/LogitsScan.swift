import Engine

/// One pass over a logits file's rows, in memory or a block at a time from the file: their
/// SHA-256 (`logits_sha256`), the first non-finite value, and the share of rows whose arg-max is
/// the row's label (`teacher_accuracy`). What reading and loading check, for any size.
struct LogitsScan {
    let sha256: String
    /// (row, value) of the first non-finite logit.
    let firstNonFinite: (row: Int, value: Float)?
    let accuracy: Double

    init(_ file: LogitsFile) throws {
        let k = file.metadata.numClasses
        let labels = LogitsFile.rowLabels(file.labels, perSample: file.viewsPerSample)
        var h = SHA256()
        var nonFinite: (Int, Float)?
        var correct = 0
        func scan(_ block: UnsafeBufferPointer<Float>, firstRow: Int) {
            h.update(UnsafeRawBufferPointer(block))
            for r in 0..<(block.count / max(k, 1)) {
                let row = block.baseAddress! + r * k
                if nonFinite == nil, let j = (0..<k).first(where: { !row[$0].isFinite }) { nonFinite = (firstRow + r, row[j]) }
                if Predictions.argmax(row, classes: k) == Int(labels[firstRow + r]) { correct += 1 }
            }
        }
        if let rows = file.logitsOnDisk {
            let block = max(1, (1 << 22) / max(rows.rowBytes, 1))
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: block * k)
            defer { buffer.deallocate() }
            for start in stride(from: 0, to: rows.rows, by: block) {
                let n = min(block, rows.rows - start)
                try rows.read(start, count: n, into: buffer)
                scan(UnsafeBufferPointer(start: buffer, count: n * k), firstRow: start)
            }
        } else if !file.logits.isEmpty {
            file.logits.withUnsafeBufferPointer { scan($0, firstRow: 0) }
        }
        sha256 = h.finalizeHex()
        firstNonFinite = nonFinite
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
    }
}
