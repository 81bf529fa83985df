import Engine

/// How a logits file stores each row of K logits (`teacher-export --top-k`, `--dtype`):
/// - **dense**: all K logits, in float32 or float16 (`logits` [rows, K]);
/// - **top-k**: the k largest logits in descending order (`topk_values` [rows, k]), their classes
///   (`topk_indices` [rows, k], int16 up to 32,768 classes, else int32), and one more value per
///   row, `topk_rest` [rows]: the log of the mean of exp(z) over the K - k classes left out.
///
/// A student rebuilds a full row from a top-k row (`decode`): the stored logits at their classes
/// and `topk_rest` at every other class. Its softmax at temperature T is then
///
///     p_i = exp(z~_i / T) / sum_j exp(z~_j / T),   z~_i = z_i (i stored), r (otherwise),
///
/// so at T = 1 the stored classes keep their exact probabilities and the others share the
/// remaining mass evenly; at any other T the remaining mass is what K - k equal logits r give.
/// Every logit method then reads the rebuilt rows as it reads dense ones. With k = K nothing is
/// left out, `topk_rest` is 0 and unused, and a float32 file rebuilds the dense rows bit for bit.
public struct LogitsEncoding: Equatable, Sendable, CustomStringConvertible {
    /// The stored values' type.
    public enum ValueType: String, CaseIterable, Sendable {
        case float32, float16
        var bytes: Int { self == .float32 ? 4 : 2 }
    }

    /// Logits kept per row; nil keeps all of them (dense).
    public var topK: Int?
    public var values: ValueType

    public init(topK: Int? = nil, values: ValueType = .float32) {
        self.topK = topK; self.values = values
    }

    /// float32 rows of every class: what files were before compact rows.
    public static let dense = LogitsEncoding()

    public var description: String {
        (topK.map { "top-\($0)" } ?? "dense") + " " + values.rawValue
    }
}
