import ArgumentParser
import Shared

@main
struct StudentDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "student-distill",
        abstract: "Stage 3 of 3: train a small student CNN against a teacher's cached logits.",
        discussion: """
        Reads MODEL_DIR/params.json and trains the student with Hinton's loss, \
        alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, label), \
        where alpha weighs the soft (teacher) term. The teacher's logits come from the files \
        teacher-export wrote; the teacher itself is never loaded, so a temperature x alpha sweep \
        reuses one export. alpha = 0 trains the scratch baseline and needs no logits.
        """
    )

    @Option(name: .long, help: "The student's run directory (holds params.json); outputs are written beside it.")
    var modelDir: String

    @Option(name: .long, help: "Folder of cached teacher logits (overrides teacher_logits in params.json).")
    var logits: String?

    @Option(name: .long, help: "Resume from this checkpoint in the run directory: 'last' or 'best'.")
    var restoreFile: RestorePoint?

    func run() throws {
        throw StageNotReady(stage: "student-distill")
    }
}
