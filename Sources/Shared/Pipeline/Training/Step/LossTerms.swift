import Engine

/// The loss terms of a run, from its params: the soft-label term (cross-entropy, with KD or DKD
/// when alpha > 0), then each other method that is switched on. A new method is a `LossTerm`
/// and a line here.
enum LossTerms {
    /// The terms `setup`'s params ask for, in the order their losses add up, for `model` against
    /// `teacher` (which holds what they read: `StudentRun` checked the export).
    static func make(_ setup: RunSetup, model: Model, teacher: TeacherTargets) throws -> [LossTerm] {
        let p = setup.params
        var terms: [LossTerm] = [SoftLabelTerm(p)]
        if p.usesFeatures && !model.hasEmbedding {
            throw KDError(file: setup.paramsPath, "the feature terms need an embedding, and \(model.name) does not end in a linear layer")
        }
        if p.atWeight > 0 { terms.append(try AttentionTerm(model: model, setup: setup, teacher: teacher.features!)) }
        if p.usesRKD {
            terms.append(RelationalTerm(teacher: teacher.features!, distanceWeight: Float(p.rkdDistanceWeight), angleWeight: Float(p.rkdAngleWeight)))
        }
        if let dist = DISTTerm(p) { terms.append(dist) }
        return terms
    }
}
