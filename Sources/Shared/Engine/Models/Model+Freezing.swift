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
