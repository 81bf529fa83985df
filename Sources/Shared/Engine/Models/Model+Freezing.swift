/// Fine-tuning with frozen parameters (`requires_grad=False`).
extension Model {
    /// Freezes the parameters `isFrozen` picks by state_dict name and thaws the others.
    ///
    /// Frozen convolutions and linear layers skip their weight gradients; a BatchNorm with
    /// weight and bias frozen normalises with its running statistics and keeps them
    /// (`BatchNorm.isFrozen`); the optimizer made afterwards keeps no state for them. The
    /// leading top-level layers without an unfrozen parameter (a frozen backbone) run in
    /// evaluation mode in training, keep no activations and take no backward pass at all.
    public func freeze(where isFrozen: (String) -> Bool) {
        let slots = store.entries.indices.filter { store.entries[$0].kind == .parameter && isFrozen(store.entries[$0].name) }
        store.setFrozen(Set(slots))
        network.frozenPrefix = network.layers.prefix { !Self.hasUnfrozenParameters($0) }.count
    }

    /// Top-level layers that training runs in evaluation mode, without backward.
    public var frozenPrefix: Int { network.frozenPrefix }

    /// What the frozen prefix makes of `images`: the same every epoch for the same images,
    /// so a run without augmentation may keep it (`FrozenFeatureCache`).
    public func frozenFeatures(_ images: Tensor) -> Tensor {
        precondition(frozenPrefix > 0, "\(name) has no frozen prefix")
        return network.forwardFrozenPrefix(images)
    }

    /// The training forward pass from the frozen prefix's output; `backward` follows as usual.
    public func forward(fromFrozen features: Tensor, mode: Mode) -> Tensor {
        let logits = network.forward(afterFrozenPrefix: features, mode: mode)
        precondition(logits.shape == [features.shape[0], numClasses] && logits.desc.isPlain, "\(name) produced \(logits.shape)")
        return logits
    }

    private static func hasUnfrozenParameters(_ layer: Layer) -> Bool {
        flatten(layer).contains { sub in
            switch sub {
            case let c as Conv2d: return !c.isFrozen
            case let l as Linear: return !l.isFrozen
            case let b as BatchNorm: return !b.isFrozen
            default: return false
            }
        }
    }
}
