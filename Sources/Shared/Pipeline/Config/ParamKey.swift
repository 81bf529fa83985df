import Engine

/// One key of params.json: its name, and how its value is read into a `Params` property with
/// its bounds. `Params.table` lists every key once; decoding, the list of known keys and the
/// README check all come from it.
struct ParamKey: Sendable {
    typealias Path<Value> = WritableKeyPath<Params, Value> & Sendable

    let name: String
    /// Reads the key (when present) into the params.
    let read: @Sendable (KeyReader, inout Params) throws -> Void
    /// For the weight of a loss term that reads the teacher's export (other than the soft
    /// labels' alpha): whether the params switch that term on.
    var switchesOnTeacherTerm: (@Sendable (Params) -> Bool)? = nil

    static func int(_ name: String, _ path: Path<Int>, _ range: ClosedRange<Int>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.int(name, range) { p[keyPath: path] = v } }
    }

    static func int(_ name: String, _ path: Path<Int?>, _ range: ClosedRange<Int>) -> ParamKey {
        ParamKey(name: name) { r, p in p[keyPath: path] = try r.int(name, range) }
    }

    static func seed(_ name: String, _ path: Path<UInt64>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.int(name, 0...Int.max) { p[keyPath: path] = UInt64(v) } }
    }

    static func double(_ name: String, _ path: Path<Double>, _ range: ClosedRange<Double>,
                       openLower: Bool = false, openUpper: Bool = false) -> ParamKey {
        ParamKey(name: name) { r, p in
            if let v = try r.double(name, range, openLower: openLower, openUpper: openUpper) { p[keyPath: path] = v }
        }
    }

    /// The weight of a loss term on the teacher's export, in [0, `maximum`]; above 0 switches the
    /// term on (and makes the run a student that needs the export).
    static func teacherTermWeight(_ name: String, _ path: Path<Double>, maximum: Double) -> ParamKey {
        var key = double(name, path, 0...maximum)
        key.switchesOnTeacherTerm = { $0[keyPath: path] > 0 }
        return key
    }

    static func float(_ name: String, _ path: Path<Float>, _ range: ClosedRange<Double>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.double(name, range) { p[keyPath: path] = Float(v) } }
    }

    static func flag(_ name: String, _ path: Path<Bool>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.flag(name) { p[keyPath: path] = v } }
    }

    static func text(_ name: String, _ path: Path<String>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.string(name) { p[keyPath: path] = v } }
    }

    static func text(_ name: String, _ path: Path<String?>) -> ParamKey {
        ParamKey(name: name) { r, p in p[keyPath: path] = try r.string(name) }
    }

    static func choice<T: RawRepresentable & CaseIterable & Sendable>(_ name: String, _ path: Path<T>) -> ParamKey
    where T.RawValue == String {
        ParamKey(name: name) { r, p in if let v = try r.choice(name, T.self) { p[keyPath: path] = v } }
    }

    static func numbers(_ name: String, _ path: Path<[Double]?>) -> ParamKey {
        ParamKey(name: name) { r, p in p[keyPath: path] = try r.doubleList(name) }
    }

    /// Whole numbers in `range`, each above the one before (epochs of a schedule).
    static func increasing(_ name: String, _ path: Path<[Int]>, _ range: ClosedRange<Int>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.increasingInts(name, range) { p[keyPath: path] = v } }
    }

    /// A list of parameter-name patterns (`ParameterPattern`), each non-empty.
    static func patterns(_ name: String, _ path: Path<[String]>) -> ParamKey {
        ParamKey(name: name) { r, p in if let v = try r.stringList(name) { p[keyPath: path] = v } }
    }
}
