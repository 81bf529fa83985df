import Foundation
import KDTestSupport
import Pipeline
import XCTest

/// README's commands run as written: every `make` target and variable it names exists in the
/// Makefile, every option it passes to a stage (directly, under mpirun, or through ARGS and
/// EXPORT_ARGS) is one that stage's `--help` lists, and every script it runs exists. The long
/// commands (a demo, a sweep) are not run here; what they need is checked.
final class ReadmeCommandTests: XCTestCase {
    private static let root = TestSupport.root
    private static let stages = ["teacher-train", "teacher-export", "student-distill"]
    /// The stage each pipeline target runs, for the options in its ARGS / EXPORT_ARGS.
    private static let targetStage = ["teacher": "teacher-train", "logits": "teacher-export", "student": "student-distill",
                                      "baseline": "student-distill"]

    private func read(_ name: String) throws -> String {
        try String(contentsOfFile: Self.root + "/" + name, encoding: .utf8)
    }

    /// The commands of README's ```sh blocks (comments cut) and its inline `make ...` and
    /// `<stage> ...` spans.
    private func commands(_ readme: String) -> [String] {
        var found: [String] = []
        var inShell = false
        for line in readme.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inShell = line.hasPrefix("```sh"); continue }
            if inShell, let command = line.components(separatedBy: "  #").first?.trimmingCharacters(in: .whitespaces),
               !command.isEmpty, !command.hasPrefix("#") {
                found.append(command)
            }
        }
        let spans = readme.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        found += spans.filter { span in span.hasPrefix("make ") || Self.stages.contains { span.hasPrefix($0 + " ") } }
        return found
    }

    /// Shell-like words: spaces split, double quotes group.
    private func words(_ command: String) -> [String] {
        var words: [String] = [], current = "", quoted = false
        for c in command {
            if c == "\"" { quoted.toggle(); continue }
            if c == " " && !quoted { if !current.isEmpty { words.append(current); current = "" }; continue }
            current.append(c)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private var helpCache: [String: String] = [:]

    /// `stage [subcommand] --help`.
    private func help(_ stage: String, _ subcommand: String?) throws -> String {
        let key = stage + " " + (subcommand ?? "")
        if let text = helpCache[key] { return text }
        let r = try TestSupport.stage(stage, (subcommand.map { [$0] } ?? []) + ["--help"])
        XCTAssertEqual(r.status, 0, "\(key) --help: \(r.output)")
        helpCache[key] = r.output
        return r.output
    }

    /// The problems of every `--option` among `arguments` missing from the stage's help (of the
    /// subcommand the arguments start with, when they do).
    private func missingOptions(_ stage: String, _ arguments: [String], in command: String) throws -> [String] {
        let subcommands = ["train", "sweep", "results", "summary", "evaluate", "export-onnx"]
        let sub = stage == "student-distill" ? arguments.first.flatMap { subcommands.contains($0) ? $0 : nil } : nil
        let text = try help(stage, sub)
        return arguments.filter { $0.hasPrefix("--") }.compactMap { option in
            let name = option.split(separator: "=").first.map(String.init) ?? option
            let listed = text.contains(name + " ") || text.contains(name + "\n") || text.contains(name + ",")
            return listed ? nil : "'\(command)': \(stage)\(sub.map { " " + $0 } ?? "") has no option \(name)"
        }
    }

    /// What in `readme`'s commands does not exist: Makefile targets and variables, stage
    /// options, scripts. Also counts the commands and the stage commands checked.
    private func problems(readme: String, makefile: String) throws -> (problems: [String], commands: Int, stageCommands: Int) {
        let targets = Set(makefile.components(separatedBy: "\n").compactMap { line -> [String]? in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("\t"), !line.hasPrefix("#"), !line.contains("=") else { return nil }
            return line[..<colon].split(separator: " ").map(String.init)
        }.flatMap { $0 })
        let all = commands(readme)
        var found: [String] = [], stageCommands = 0
        for command in all {
            let w = words(command)
            if w.first == "make" {
                let target = w.dropFirst().first { !$0.contains("=") } ?? ""
                for word in w.dropFirst() {
                    guard let eq = word.firstIndex(of: "=") else {
                        if !targets.contains(word) { found.append("'\(command)': the Makefile has no target '\(word)'") }
                        continue
                    }
                    let variable = String(word[..<eq]), value = String(word[word.index(after: eq)...])
                    if !makefile.contains("$(\(variable))") { found.append("'\(command)': the Makefile does not use \(variable)") }
                    if let stage = Self.targetStage[target], ["ARGS", "EXPORT_ARGS"].contains(variable) {
                        found += try missingOptions(stage, words(value), in: command)
                        stageCommands += 1
                    }
                }
            } else if let at = w.firstIndex(where: { word in Self.stages.contains { word == $0 || word.hasSuffix("/" + $0) } }) {
                let stage = Self.stages.first { w[at] == $0 || w[at].hasSuffix("/" + $0) }!
                found += try missingOptions(stage, Array(w[(at + 1)...]), in: command)
                stageCommands += 1
            } else if let script = w.first(where: { $0.hasPrefix("scripts/") }),
                      !FileManager.default.fileExists(atPath: Self.root + "/" + script) {
                found.append("'\(command)': no \(script)")
            }
        }
        return (found, all.count, stageCommands)
    }

    func testEveryReadmeCommandNamesWhatExists() throws {
        let r = try problems(readme: try read("README.md"), makefile: try read("Makefile"))
        XCTAssertEqual(r.problems, [], "README commands that would not run as written")
        XCTAssertGreaterThan(r.commands, 20, "README's commands were not found")
        XCTAssertGreaterThan(r.stageCommands, 8, "README's stage commands were not found")
    }

    /// Every params.json README writes with a heredoc (`<<'JSON'`) is one this tool accepts.
    func testReadmeParamsFilesDecode() throws {
        var blocks: [String] = [], current: [String]?
        for line in try read("README.md").components(separatedBy: "\n") {
            if line.contains("<<'JSON'") { current = []; continue }
            if line == "JSON", let c = current { blocks.append(c.joined(separator: "\n")); current = nil; continue }
            current?.append(line)
        }
        XCTAssertGreaterThanOrEqual(blocks.count, 3, "README's params.json examples were not found")
        for (i, block) in blocks.enumerated() {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(block.utf8))
            guard case .object(let keys) = value else { XCTFail("README params example \(i + 1) is not an object"); continue }
            XCTAssertNoThrow(try Params(dictionary: keys, file: "README params example \(i + 1)"))
        }
    }

    /// The check finds what it should: a misspelt option (direct and through ARGS), a target
    /// and a variable the Makefile lacks, a missing script; and the parsing it rests on.
    func testTheCheckFindsWhatDoesNotExist() throws {
        let readme = """
            ```sh
            make teachers  # no such target
            make teacher TEACHERS=x ARGS="--restore-fil last"
            .build/release/student-distill evaluate --model-dir x --splt val
            /usr/bin/python3 scripts/no_such_script.py
            ```
            """
        let r = try problems(readme: readme, makefile: try read("Makefile"))
        XCTAssertEqual(r.problems, [
            "'make teachers': the Makefile has no target 'teachers'",
            "'make teacher TEACHERS=x ARGS=\"--restore-fil last\"': the Makefile does not use TEACHERS",
            "'make teacher TEACHERS=x ARGS=\"--restore-fil last\"': teacher-train has no option --restore-fil",
            "'.build/release/student-distill evaluate --model-dir x --splt val': student-distill evaluate has no option --splt",
            "'/usr/bin/python3 scripts/no_such_script.py': no scripts/no_such_script.py",
        ])
        XCTAssertEqual(words("make logits EXPORT_ARGS=\"--views 8 --out x\""), ["make", "logits", "EXPORT_ARGS=--views 8 --out x"])
        XCTAssertEqual(commands("```sh\nmake demo  # a comment\n```\nsee `make bench-load` and `teacher-export --views V`."),
                       ["make demo", "make bench-load", "teacher-export --views V"])
    }
}
