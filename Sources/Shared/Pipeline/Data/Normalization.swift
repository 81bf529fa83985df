import Engine
/// Per-channel normalisation, x' = (pixel / 255 - mean[c]) / std[c], as torchvision's
/// `ToTensor()` followed by `Normalize(mean, std)`.
public struct Normalization: Codable, Equatable, Sendable {
    public let mean: [Float]
    public let std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && std.allSatisfy { $0 > 0 })
        self.mean = mean
        self.std = std
    }

    /// Mean and (population) standard deviation of each channel over the whole dataset,
    /// computed from the training split only. Accumulated in Double; O(pixels).
    public static func fit(_ data: Dataset) throws -> Normalization {
        let plane = data.height * data.width
        var sum = [UInt64](repeating: 0, count: data.channels), sumSq = sum
        try data.forEachImageBlock { px, block in
            for n in 0..<block.count {
                for c in 0..<data.channels {
                    let base = (n * data.channels + c) * plane
                    var s: UInt64 = 0, s2: UInt64 = 0
                    for i in 0..<plane {
                        let v = UInt64(px[base &+ i])
                        s &+= v; s2 &+= v &* v
                    }
                    sum[c] &+= s; sumSq[c] &+= s2
                }
            }
        }
        var mean = [Float](), std = [Float]()
        for c in 0..<data.channels {
            let n = Double(data.count * plane)
            let m = Double(sum[c]) / n / 255
            let variance = max(Double(sumSq[c]) / n / (255 * 255) - m * m, 0)
            mean.append(Float(m))
            std.append(Float(max(variance.squareRoot(), 1e-6)))
        }
        return Normalization(mean: mean, std: std)
    }

    /// Stamped into logits files at full float precision, e.g. "mean=[0.28604063] std=[0.35302424]".
    public var summary: String {
        func list(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
        return "mean=\(list(mean)) std=\(list(std))"
    }
}
