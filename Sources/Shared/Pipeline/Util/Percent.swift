import Foundation

/// "93.45%".
public func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }
