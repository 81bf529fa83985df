/// xoshiro256** seeded through SplitMix64: the one source of randomness in the project.
///
/// Always passed explicitly (no global state), and every algorithm that draws from it
/// (shuffles, bounded integers, normals) is implemented here rather than borrowed from the
/// standard library, so the same seed gives the same splits, batches and weights on any machine
/// and any Swift version.
public struct SeededRNG: RandomNumberGenerator, Sendable, Equatable {
    /// The full generator state, for checkpoints.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(&sm), splitMix(&sm), splitMix(&sm), splitMix(&sm))
    }

    /// Restores a generator from `state` (as saved in a checkpoint).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) { self.state = state }

    /// A generator for one purpose, derived from a seed and stream labels (e.g. epoch number),
    /// so that streams do not depend on how much another stream consumed.
    public init(seed: UInt64, stream: UInt64...) {
        var mixed = seed
        for s in stream {
            var g = SeededRNG(seed: mixed ^ (s &* 0xD1B5_4A32_D192_ED03))
            mixed = g.next()
        }
        self.init(seed: mixed)
    }

    public mutating func next() -> UInt64 {
        @inline(__always) func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// Uniform integer in `0..<bound` (Lemire's multiply-shift with rejection; unbiased).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform Double in [0, 1) with 53 random bits.
    public mutating func unitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform Float in [0, 1).
    public mutating func unitFloat() -> Float { Float(next() >> 40) * 0x1.0p-24 }

    /// Standard normal (Box-Muller; the second value is discarded for simplicity of state).
    public mutating func normal() -> Double {
        var u1 = unitDouble()
        while u1 <= 0 { u1 = unitDouble() }
        let u2 = unitDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Fisher-Yates shuffle, in place.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1))
        }
    }

    public static func == (l: SeededRNG, r: SeededRNG) -> Bool {
        l.state.0 == r.state.0 && l.state.1 == r.state.1 && l.state.2 == r.state.2 && l.state.3 == r.state.3
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
