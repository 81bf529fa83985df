/// history.json: one entry per completed epoch, cut back to the checkpoint's epoch on resume.
public struct TrainingHistory: Codable, Equatable, Sendable {
    public struct Epoch: Codable, Equatable, Sendable {
        /// 1-based.
        public var epoch: Int
        public var valAccuracy: Double
        public var valLoss: Double
        public var trainAccuracy: Double
        public var trainLoss: Double
        public var learningRate: Double
        public var seconds: Double
    }

    public var epochs: [Epoch] = []
}
