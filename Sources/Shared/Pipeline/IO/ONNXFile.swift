import Engine
import Foundation

/// Writes an `InferenceGraph` as an ONNX model (IR version 7, opset 13: what Debian 12's
/// python3-onnx 1.12 checks and current onnxruntime runs), with a free batch dimension.
///
/// The protobuf messages are written by hand (`ProtobufWriter`) rather than generated: the
/// exporter needs seven messages and a few dozen fields, and generated code would add
/// swift-protobuf and protoc to the build for them. Field numbers are those of onnx.proto.
public enum ONNXFile {
    public static let irVersion: Int64 = 7
    public static let opset: Int64 = 13

    public static func encode(_ graph: InferenceGraph, producerVersion: String = "1") -> [UInt8] {
        var model = ProtobufWriter()
        model.int(1, irVersion)                       // ModelProto.ir_version
        model.string(2, "kd-pipeline")                // producer_name
        model.string(3, producerVersion)              // producer_version
        model.message(7) { encodeGraph(graph, into: &$0) }  // graph
        model.message(8) { $0.int(2, opset) }         // opset_import: OperatorSetIdProto.version (default domain)
        return model.bytes
    }

    /// Encodes and writes atomically.
    public static func write(_ graph: InferenceGraph, to path: String) throws {
        try AtomicWrite.write(Data(encode(graph)), to: path)
    }

    private static func encodeGraph(_ g: InferenceGraph, into w: inout ProtobufWriter) {
        for node in g.nodes {
            w.message(1) { n in                       // GraphProto.node: NodeProto
                for i in node.inputs { n.string(1, i) }
                for o in node.outputs { n.string(2, o) }
                n.string(3, node.outputs[0])          // name
                n.string(4, node.op)                  // op_type
                for (name, value) in node.attributes {
                    n.message(5) { a in encodeAttribute(name, value, into: &a) }
                }
            }
        }
        w.string(2, g.name)                           // GraphProto.name
        for t in g.initializers {
            w.message(5) { encodeTensor(t, into: &$0) }  // initializer: TensorProto
        }
        w.message(11) { encodeValueInfo(g.input.name, dims: [nil] + g.input.shape.map { $0 }, into: &$0) }   // input
        w.message(12) { encodeValueInfo(g.output.name, dims: [nil, g.output.classes], into: &$0) }          // output
    }

    private static func encodeAttribute(_ name: String, _ value: InferenceGraph.AttributeValue, into a: inout ProtobufWriter) {
        a.string(1, name)                             // AttributeProto.name
        switch value {
        case .float(let f): a.float(2, f); a.int(20, 1)          // f, type FLOAT
        case .int(let i): a.int(3, Int64(i)); a.int(20, 2)        // i, type INT
        case .ints(let list): a.packedInts(8, list.map(Int64.init)); a.int(20, 7)  // ints, type INTS
        }
    }

    private static func encodeTensor(_ t: InferenceGraph.Initializer, into w: inout ProtobufWriter) {
        w.packedInts(1, t.dims.map(Int64.init))       // TensorProto.dims
        switch t.values {
        case .float(let values):
            w.int(2, 1)                               // data_type FLOAT
            w.string(8, t.name)                       // name
            w.data(9, values.withUnsafeBytes { Array($0) })  // raw_data, little-endian
        case .int64(let values):
            w.int(2, 7)                               // data_type INT64
            w.string(8, t.name)
            w.data(9, values.withUnsafeBytes { Array($0) })
        }
    }

    /// A float tensor's ValueInfoProto; nil dimensions are the free batch ("batch").
    private static func encodeValueInfo(_ name: String, dims: [Int?], into w: inout ProtobufWriter) {
        w.string(1, name)                             // ValueInfoProto.name
        w.message(2) { type in                        // type: TypeProto
            type.message(1) { tensor in               // tensor_type: TypeProto.Tensor
                tensor.int(1, 1)                      // elem_type FLOAT
                tensor.message(2) { shape in          // shape: TensorShapeProto
                    for d in dims {
                        shape.message(1) { dim in     // dim: Dimension
                            if let d { dim.int(1, Int64(d)) } else { dim.string(2, "batch") }  // dim_value / dim_param
                        }
                    }
                }
            }
        }
    }
}
