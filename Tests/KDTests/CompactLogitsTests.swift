import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Compact logits files (`teacher-export --top-k`, `--dtype float16`): what they store, what a
/// student rebuilds from them against a float64 reference of README's formula, and that a top-k
/// file keeping every class trains as the dense file does.
final class CompactLogitsTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("kd-compact-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    /// `count` samples of `classes` random logits (spread like a teacher's: a few large ones),
    /// `views` rows each, as a logits file.
    private func randomFile(count: Int, classes: Int, views: Int = 1, seed: UInt64 = 7) -> LogitsFile {
        var rng = SeededRNG(seed: seed)
        let labels = (0..<count).map { _ in Int32(rng.below(classes)) }
        let logits = (0..<(count * views * classes)).map { _ in (rng.unitFloat() - 0.5) * 8 + (rng.below(8) == 0 ? 6 : 0) }
        let meta = LogitsFile.Metadata(dataset: "random", datasetFingerprint: "f", split: .train, numClasses: classes,
                                       teacherModel: "none", checkpointSHA256: "c", teacherAccuracy: 0.5, normalization: "n")
        let perSample = views > 1 ? TeacherViews(samples: count, perSample: views, augmentation: Augmentation(padding: 2, horizontalFlip: true), imageSize: 8, seed: 1) : nil
        return LogitsFile(metadata: meta, logits: logits, labels: labels, views: perSample)
    }

    /// README's rebuilt row, in float64: the stored values (rounded to the stored type) at their
    /// classes, the log of the mean of exp over the others everywhere else.
    private func referenceRow(_ row: ArraySlice<Float>, topK k: Int?, values: LogitsEncoding.ValueType) -> [Double] {
        func stored(_ x: Float) -> Double { values == .float16 ? Double(Float(Float16(x))) : Double(x) }
        let z = Array(row)
        guard let k else { return z.map(stored) }
        let kept = z.indices.sorted { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }.prefix(k)
        let rest = z.indices.filter { !kept.contains($0) }
        let m = rest.map { Double(z[$0]) }.max() ?? 0
        let r = rest.isEmpty ? 0 : m + log(rest.map { exp(Double(z[$0]) - m) }.reduce(0, +) / Double(rest.count))
        var out = [Double](repeating: stored(Float(r)), count: z.count)
        for c in kept { out[c] = stored(z[c]) }
        return out
    }

    private func assertClose(_ a: [Float], _ b: [Double], tolerance: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        guard let worst = a.indices.max(by: { abs(Double(a[$0]) - b[$0]) < abs(Double(a[$1]) - b[$1]) }) else { return }
        XCTAssertLessThanOrEqual(abs(Double(a[worst]) - b[worst]), tolerance,
                                 "\(what): value \(worst) is \(a[worst]), the reference \(b[worst])", file: file, line: line)
    }

    private let encodings = [LogitsEncoding(values: .float16), LogitsEncoding(topK: 1), LogitsEncoding(topK: 5, values: .float16),
                             LogitsEncoding(topK: 37)]

    /// Each encoding written and read back (in memory, compact in memory, and from the file):
    /// the rows it gives equal the reference rebuilt rows.
    func testCompactRowsRoundTripAsDocumented() throws {
        for views in [1, 3] {
            var file = randomFile(count: 40, classes: 37, views: views)
            for encoding in encodings {
                file.encoding = encoding
                let path = root + "/\(encoding.topK ?? 0)-\(encoding.values)-\(views).h5"
                try file.write(to: path)
                let reference = (0..<(40 * views)).flatMap { r in
                    referenceRow(file.logits[(r * 37)..<((r + 1) * 37)], topK: encoding.topK, values: encoding.values)
                }
                // float32 values are stored exactly; the rest value is float64 rounded once.
                let tolerance = encoding.values == .float32 ? 2e-6 : 0
                for (budget, keep) in [(Int.max, false), (Int.max, true), (0, true)] {
                    let read = try LogitsFile.read(path, memoryBudget: budget, keepCompact: keep)
                    XCTAssertEqual(read.encoding, encoding)
                    XCTAssertEqual(read.viewsPerSample, views)
                    assertClose(try read.allLogits(), reference, tolerance: tolerance, "\(encoding), \(views) views, budget \(budget)")
                    let rows = [5, 2, 2, 39 * views]
                    XCTAssertEqual(try read.logits(of: rows), rows.flatMap { Array(try! read.allLogits()[($0 * 37)..<(($0 + 1) * 37)]) })
                }
            }
        }
    }

    /// What a student's KD term pulls towards, read off its gradient: with student logits of 0,
    /// alpha 1 and batchmean, dL/ds = T (1/K - p) / N, so p = 1/K - N dL/ds / T. For a top-5 row
    /// it must be README's softmax(z~ / T) of the original float32 logits, computed in float64.
    func testTheStudentsTargetFromATopKRowIsTheDocumentedFormula() throws {
        var file = randomFile(count: 16, classes: 37)
        file.encoding = LogitsEncoding(topK: 5)
        try file.write(to: root + "/top5.h5")
        let read = try LogitsFile.read(root + "/top5.h5", keepCompact: true)
        for t in [1.0, 4.0] {
            let n = 16, k = 37
            let teacher = try read.logits(of: Array(0..<n))
            var gradient = [Float](repeating: 0, count: n * k)
            let student = [Float](repeating: 0, count: n * k)
            _ = DistillationLoss(alpha: 1, temperature: Float(t)).compute(student: student, teacher: teacher, labels: file.labels,
                                                                        classes: k, gradient: &gradient)
            for r in 0..<n {
                let z = referenceRow(file.logits[(r * k)..<((r + 1) * k)], topK: 5, values: .float32)
                let m = z.max()!
                let e = z.map { exp(($0 - m) / t) }, sum = e.reduce(0, +)
                let expected = e.map { $0 / sum }
                let target = (0..<k).map { 1 / Double(k) - Double(n) * Double(gradient[r * k + $0]) / t }
                assertClose(target.map { Float($0) }, expected, tolerance: 1e-6, "row \(r) at T \(t)")
            }
        }
    }

    /// A file changed after export is refused, naming the file and what is wrong: rows, the
    /// encoding's attributes, and rows teacher-export could not have written (with checksums
    /// made to match, so the row checks answer).
    func testDamagedCompactFilesAreRefused() throws {
        var file = randomFile(count: 12, classes: 10)
        file.encoding = LogitsEncoding(topK: 3, values: .float16)
        let path = root + "/top3.h5"
        func variant(_ name: String, _ change: (HDF5File) throws -> Void) throws -> String {
            let copy = root + "/\(name).h5"
            try? FileManager.default.removeItem(atPath: copy)
            try file.write(to: copy)
            let h = try HDF5File.open(copy, writable: true)
            try change(h)
            try h.close()
            return copy
        }
        func expectRefusal(_ path: String, _ phrase: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try LogitsFile.read(path), file: file, line: line) { error in
                XCTAssert("\(error)".contains(path) && "\(error)".contains(phrase), "\(error)", file: file, line: line)
            }
        }
        try file.write(to: path)
        XCTAssertNoThrow(try LogitsFile.read(path))
        /// Overwrites one stored row of `part` and makes its checksum and the attributes' digest agree.
        func forge(_ h: HDF5File, _ part: String, row: Int, _ bytes: [UInt8]) throws {
            let rows = try XCTUnwrap(try RowFile(h, dataset: part, elementBytes: bytes.count / (part == "topk_rest" ? 1 : 3),
                                                  rowElements: part == "topk_rest" ? 1 : 3, writable: true))
            try bytes.withUnsafeBytes { try rows.write(row, count: 1, from: $0.baseAddress!) }
            var all = [UInt8](repeating: 0, count: rows.rows * rows.rowBytes)
            try all.withUnsafeMutableBytes { try rows.read(0, count: rows.rows, into: $0.baseAddress!) }
            try h.setAttribute(part + "_sha256", .string(LogitsFile.checksum(all)))
            try h.setAttribute("attributes_sha256", .string(try h.attributesDigest(excluding: "attributes_sha256")))
        }
        let int16 = { (v: [Int16]) in v.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }
        let half = { (v: [Float]) in v.flatMap { withUnsafeBytes(of: Float16($0)) { Array($0) } } }
        expectRefusal(try variant("values") { h in
            let rows = try XCTUnwrap(try RowFile(h, dataset: "topk_values", elementBytes: 2, rowElements: 3, writable: true))
            try half([9, 8, 7]).withUnsafeBytes { try rows.write(4, count: 1, from: $0.baseAddress!) }
        }, "'topk_values' does not match the checksum written at export (topk_values_sha256)")
        expectRefusal(try variant("top-k") { try $0.setAttribute("logits_top_k", .int(4)) },
                      "its attributes do not match the checksum written at export")
        expectRefusal(try variant("range") { try forge($0, "topk_indices", row: 2, int16([3, 12, 1])) },
                      "row 2: topk_indices holds class 12, outside 0..<10")
        expectRefusal(try variant("twice") { try forge($0, "topk_indices", row: 5, int16([3, 3, 1])) },
                      "row 5: topk_indices holds class 3 twice")
        expectRefusal(try variant("order") { try forge($0, "topk_values", row: 1, half([1, 2, 0])) },
                      "row 1: topk_values are not in descending order")
        expectRefusal(try variant("rest") { try forge($0, "topk_rest", row: 0, half([100])) },
                      "row 0: topk_rest (100.0) is above the smallest stored logit")
        expectRefusal(try variant("dtype") { h in
            try h.setAttribute("logits_dtype", .string("bfloat16"))
            try h.setAttribute("attributes_sha256", .string(try h.attributesDigest(excluding: "attributes_sha256")))
        }, "attribute 'logits_dtype' is 'bfloat16'; this tool reads float32 and float16")
    }

    /// teacher-export --top-k 10 keeps every class of the shared teacher's 10: other datasets,
    /// but a student trains on them bit for bit as on the dense export. More than the classes is
    /// refused.
    func testTopKOfEveryClassTrainsBitwiseAsTheDenseFile() throws {
        PipelineTests.setUp()
        if let e = PipelineTests.setUpError { XCTFail(e); throw XCTSkip("no teacher") }
        let everyClass = try PipelineTests.export(["--top-k", "10"], into: "top10")
        XCTAssertEqual(try LogitsFile.read(everyClass + "/train.h5").encoding, LogitsEncoding(topK: 10))
        var digests: [String] = []
        for (name, logits) in [("dense", PipelineTests.teacherDir + "/logits"), ("top10", everyClass)] {
            let dir = root + "/student-" + name
            try TestSupport.writeParams(dir, PipelineTests.studentParams(["teacher_logits": logits]))
            let r = try TestSupport.stage("student-distill", ["--model-dir", dir])
            XCTAssertEqual(r.status, 0, r.output)
            digests.append(try HDF5File.open(dir + "/last.h5").stringAttribute("state_dict_sha256"))
        }
        XCTAssertEqual(digests[0], digests[1], "top-10 of 10 classes trains as the dense rows")
        let r = try TestSupport.stage("teacher-export", ["--model-dir", PipelineTests.teacherDir, "--out", root + "/x", "--top-k", "11"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.output.contains("--top-k 11 is more than the dataset's 10 classes"), r.output)
    }

    /// README's h5py snippet, run as written on a file of every layout (with and without views):
    /// it rebuilds the rows this tool rebuilds, bit for bit, and finds the checksums true.
    func testH5pyReadsEveryLayoutAsReadmeSays() throws {
        let python = "/usr/bin/python3"
        guard (try? TestSupport.run(python, ["-c", "import h5py, numpy"]).status) == 0 else {
            throw XCTSkip("Debian's python3-h5py is not installed (make test installs it)")
        }
        let readme = try String(contentsOfFile: TestSupport.root + "/README.md", encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "### Compact logits").dropFirst().first)
        let snippet = try XCTUnwrap(section.components(separatedBy: "```python\n").dropFirst().first?.components(separatedBy: "```").first)
        let script = snippet + """

            import sys
            for path in sys.argv[1:]:
                teacher_logits(path).tofile(path + ".f32")
                assert checksums_hold(path), path
            """
        for views in [1, 3] {
            var file = randomFile(count: 20, classes: 37, views: views)
            for encoding in [LogitsEncoding.dense] + encodings {
                file.encoding = encoding
                let path = root + "/h5py-\(encoding.topK ?? 0)-\(encoding.values)-\(views).h5"
                try file.write(to: path)
                let r = try TestSupport.run(python, ["-c", script, path])
                XCTAssertEqual(r.status, 0, r.output)
                let theirs = try Data(contentsOf: URL(fileURLWithPath: path + ".f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                let mine = try LogitsFile.read(path).allLogits()
                XCTAssertEqual(theirs.map(\.bitPattern), mine.map(\.bitPattern), "\(encoding), \(views) views")
            }
        }
    }
}
