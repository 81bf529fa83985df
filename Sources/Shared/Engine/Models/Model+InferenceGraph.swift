/// The evaluation graph of a model, for export (`student-distill export-onnx`): BatchNorm with
/// its running statistics, Dropout left out, every weight copied as it is in the arena.
extension Model {
    public func inferenceGraph() -> InferenceGraph {
        var builder = GraphBuilder(store: store)
        let output = builder.emit(network, input: "input")
        var graph = InferenceGraph(name: name, input: ("input", inputShape), output: (output, numClasses))
        graph.nodes = builder.nodes
        graph.initializers = builder.initializers
        return graph
    }
}

/// Walks the layers depth first, appending one or a few ONNX nodes per layer.
private struct GraphBuilder {
    let store: ParameterStore
    var nodes: [InferenceGraph.Node] = []
    var initializers: [InferenceGraph.Initializer] = []
    private var counter = 0

    init(store: ParameterStore) { self.store = store }

    /// Emits `layer` reading tensor `input`; returns the name of its output.
    mutating func emit(_ layer: Layer, input: String) -> String {
        switch layer {
        case let s as Sequential:
            return s.layers.reduce(input) { emit($1, input: $0) }
        case let c as ConvBN:
            return emit(c.norm, input: emit(c.conv, input: input))
        case let c as Conv2d:
            let k = c.kernel
            return node("Conv", [input, constant(c.weight)] + (c.bias.map { [constant($0)] } ?? []),
                        [("kernel_shape", .ints([k, k])), ("strides", .ints([c.stride, c.stride])),
                         ("pads", .ints([c.padding, c.padding, c.padding, c.padding])), ("group", .int(c.groups))])
        case let b as BatchNorm:
            let y = node("BatchNormalization", [input, constant(b.weight), constant(b.bias), constant(b.runningMean), constant(b.runningVar)],
                         [("epsilon", .float(b.epsilon))])
            return b.fusedReLU ? node("Relu", [y]) : y
        case is ReLU:
            return node("Relu", [input])
        case let a as Activation:
            switch a.kind {
            case .relu6: return node("Clip", [input, scalar(0), scalar(6)])
            case .leakyReLU(let slope): return node("LeakyRelu", [input], [("alpha", .float(slope))])
            }
        case let p as Pool2d:
            var attributes: [(String, InferenceGraph.AttributeValue)] = [
                ("kernel_shape", .ints([p.kernel, p.kernel])), ("strides", .ints([p.stride, p.stride])),
                ("pads", .ints([p.padding, p.padding, p.padding, p.padding])),
            ]
            if p.kind == .average { attributes.append(("count_include_pad", .int(1))) }  // oneDNN's avg_include_padding
            return node(p.kind == .max ? "MaxPool" : "AveragePool", [input], attributes)
        case is GlobalAvgPool:
            return node("GlobalAveragePool", [input])
        case is Flatten:
            return node("Flatten", [input], [("axis", .int(1))])
        case is Dropout:
            return input
        case let l as Linear:
            return node("Gemm", [input, constant(l.weight)] + (l.bias.map { [constant($0)] } ?? []), [("transB", .int(1))])
        case let r as Residual:
            let main = emit(r.main, input: input)
            let skip = r.shortcut.map { emit($0, input: input) } ?? input
            let sum = node("Add", [main, skip])
            return r.reluAfter ? node("Relu", [sum]) : sum
        case let z as ZeroPadShortcut:
            // x[:, :, ::2, ::2], then zeros on both sides of the channels.
            let sliced = node("Slice", [input, ints([0, 0]), ints([Int64.max, Int64.max]), ints([2, 3]), ints([2, 2])])
            let pad = Int64((z.outChannels - z.inChannels) / 2)
            return node("Pad", [sliced, ints([0, pad, 0, 0, 0, pad, 0, 0])])  // mode "constant", value 0
        default:
            preconditionFailure("no ONNX form for layer \(type(of: layer))")
        }
    }

    /// Appends a node with a fresh output name and returns that name.
    private mutating func node(_ op: String, _ inputs: [String], _ attributes: [(String, InferenceGraph.AttributeValue)] = []) -> String {
        counter += 1
        let output = "\(op.lowercased())_\(counter)"
        nodes.append(.init(op: op, inputs: inputs, outputs: [output], attributes: attributes.map { (name: $0.0, value: $0.1) }))
        return output
    }

    /// The parameter or buffer in `slot` as an initialiser named as in the checkpoint.
    private mutating func constant(_ slot: ParameterStore.Slot) -> String {
        let entry = store.entries[slot]
        let values = Array(UnsafeBufferPointer(start: store.value(slot), count: entry.count))
        initializers.append(.init(name: entry.name, dims: entry.shape, values: .float(values)))
        return entry.name
    }

    /// A float scalar constant (Clip's bounds).
    private mutating func scalar(_ value: Float) -> String {
        counter += 1
        let name = "const_\(counter)"
        initializers.append(.init(name: name, dims: [], values: .float([value])))
        return name
    }

    /// A 1-D int64 constant (Slice's and Pad's operands).
    private mutating func ints(_ values: [Int64]) -> String {
        counter += 1
        let name = "const_\(counter)"
        initializers.append(.init(name: name, dims: [values.count], values: .int64(values)))
        return name
    }
}
