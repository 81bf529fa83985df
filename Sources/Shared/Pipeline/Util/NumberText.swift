/// A number as params.json and the sweeps' folder names write it: "4", "0.9", "1000".
public func numberText(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
