/// A model's evaluation-mode computation as a list of ONNX operators over named tensors, with
/// the weights as initialisers: what `Model.inferenceGraph()` builds and `ONNXFile` encodes.
/// Operators and attributes use ONNX's names (opset 13), so the encoder only serialises.
public struct InferenceGraph: Sendable {
    public enum AttributeValue: Sendable, Equatable {
        case int(Int), ints([Int]), float(Float)
    }

    public struct Node: Sendable {
        public var op: String
        public var inputs: [String]
        public var outputs: [String]
        public var attributes: [(name: String, value: AttributeValue)]
    }

    /// A constant tensor: float weights or int64 operands (Slice's and Pad's).
    public struct Initializer: Sendable {
        public enum Values: Sendable { case float([Float]), int64([Int64]) }
        public var name: String
        public var dims: [Int]
        public var values: Values
    }

    public var name: String
    /// The image input [batch, C, H, W] and the logits output [batch, classes]; the batch
    /// dimension is left free.
    public var input: (name: String, shape: [Int])
    public var output: (name: String, classes: Int)
    public var nodes: [Node] = []
    public var initializers: [Initializer] = []
}
