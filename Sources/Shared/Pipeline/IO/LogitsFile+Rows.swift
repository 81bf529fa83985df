import Engine

extension LogitsFile {
    /// The encoding a file says its rows have: dense float32 before version 4, else its
    /// `logits_dtype` and `logits_top_k` attributes.
    static func readEncoding(_ f: HDF5File, _ path: String, version: Int64, classes: Int) throws -> LogitsEncoding {
        guard version >= compactFormatVersion else { return .dense }
        let name = try f.stringAttribute("logits_dtype")
        guard let values = LogitsEncoding.ValueType(rawValue: name) else {
            throw KDError(file: path, "attribute 'logits_dtype' is '\(name)'; this tool reads \(LogitsEncoding.ValueType.allCases.map(\.rawValue).joined(separator: " and "))")
        }
        let k = Int(try f.intAttribute("logits_top_k"))
        guard k == 0 || (1...classes).contains(k) else {
            throw KDError(file: path, "attribute 'logits_top_k' is \(k), outside 1...\(classes) (num_classes), or 0 for every class")
        }
        return LogitsEncoding(topK: k == 0 ? nil : k, values: values)
    }

    /// The rows of a file whose datasets `codec` names, for rows of shape `rowShape` ([N] or
    /// [N, V]): dense float32 rows in memory when they fit `memoryBudget` (as `logits`), else the
    /// stored parts, in memory when they fit and in the file when they do not.
    static func readRows(_ f: HDF5File, _ path: String, codec: LogitsCodec, rowShape: [Int],
                         memoryBudget: Int) throws -> (logits: [Float], stored: StoredLogits?) {
        let rows = rowShape.reduce(1, *)
        if codec.isPlainFloat32 && rows * codec.classes * 4 <= memoryBudget {
            return (try f.read("logits", as: Float.self).values, nil)  // chunked files of older exports too
        }
        for part in codec.parts {
            let shape = try f.shape(of: part.name), expected = part.shape(rows: rowShape)
            guard shape == expected else { throw KDError(file: path, "'\(part.name)' has shape \(shape), expected \(expected)") }
            let (isInteger, bytes) = try f.elementType(of: part.name)
            guard isInteger == part.isInteger, bytes == part.elementBytes else {
                let kind = { (integer: Bool, bytes: Int) in "\(integer ? "int" : "float")\(8 * bytes)" }
                throw KDError(file: path, "'\(part.name)' holds \(kind(isInteger, bytes)) values, this encoding (\(codec.encoding)) stores \(kind(part.isInteger, part.elementBytes))")
            }
        }
        guard rows > 0 else { return ([], nil) }
        var files: [RowFile] = []
        for part in codec.parts {
            guard let rowFile = try RowFile(f, dataset: part.name, elementBytes: part.elementBytes, rowElements: part.perRow) else {
                if codec.isPlainFloat32 { return (try f.read("logits", as: Float.self).values, nil) }
                throw KDError(file: path, "'\(part.name)' is not stored contiguously, as teacher-export writes it (rewritten by another tool?): run teacher-export again")
            }
            files.append(rowFile)
        }
        guard !codec.isPlainFloat32 && rows * codec.rowBytes <= memoryBudget else {
            return ([], StoredLogits(codec: codec, rows: rows, sources: files.map { .file($0) }))
        }
        let sources: [StoredLogits.Source] = try files.map { rowFile in
            var bytes = [UInt8](repeating: 0, count: rows * rowFile.rowBytes)
            try bytes.withUnsafeMutableBytes { try rowFile.read(0, count: rows, into: $0.baseAddress!) }
            return .memory(bytes)
        }
        return ([], StoredLogits(codec: codec, rows: rows, sources: sources))
    }
}
