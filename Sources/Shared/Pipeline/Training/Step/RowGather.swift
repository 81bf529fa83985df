/// The rows `rows` of a row-major matrix with `rowSize` columns, in that order: how a batch
/// finds its teacher rows (they are keyed by sample index, never by batch position).
func gatherRows(_ values: [Float], rowSize: Int, rows: [Int]) -> [Float] {
    var out = [Float]()
    out.reserveCapacity(rows.count * rowSize)
    for r in rows { out.append(contentsOf: values[(r * rowSize)..<((r + 1) * rowSize)]) }
    return out
}
