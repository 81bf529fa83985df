import Pipeline

/// What `--version` prints on every stage: the release, and the file formats it writes (a
/// reader of the files, h5py or another build, needs those more than the number).
public enum ToolVersion {
    public static let release = "0.3.0"

    public static var description: String {
        "kd-pipeline \(release) (logits files format \(LogitsFile.formatVersion), checkpoints format \(Checkpoint.formatVersion))"
    }
}
