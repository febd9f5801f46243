import ArgumentParser
import CascadeGraph
import Foundation

/// `cascade graph ...`: offline questions about `graph/`; `--live` asks a running bus.
/// Exit codes: 0 fine, 1 the graph has errors, 2 usage or I/O problems.
struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Inspect the cache dependency graph.",
        discussion: "Exit status: 0 fine, 1 the graph has errors, 2 usage or I/O problems (unreadable directory, unknown name, bus not reachable).",
        subcommands: [
            GraphValidateCommand.self, GraphShowCommand.self, GraphDepsCommand.self,
            GraphDependentsCommand.self, GraphImpactCommand.self, GraphCyclesCommand.self, GraphExportCommand.self,
        ]
    )
}

/// Options every graph subcommand shares.
struct GraphOptions: ParsableArguments {
    @Option(name: .customLong("graph"), help: ArgumentHelp("Directory of service YAML files.", valueName: "dir"))
    var directory = "graph"

    @Flag(help: "Print JSON for scripts instead of tables.")
    var json = false

    /// Loads the graph, or prints why not and exits: 1 for graph errors, 2 for I/O.
    func load() throws -> (CacheGraph, GraphLoadResult) {
        try Self.load(directory: directory)
    }

    /// The same for every command that reads a graph directory (bus, dev, benchmarks).
    static func load(directory: String) throws -> (CacheGraph, GraphLoadResult) {
        do {
            return try GraphLoader.loadUsable(directory: directory)
        } catch {
            for line in error.lines { GraphOutput.error(line) }
            throw ExitCode(error.exitCode)
        }
    }

    /// A family named on the command line, or exit 2 with a sentence.
    func family(_ text: String, in graph: CacheGraph) throws -> FamilyID {
        switch graph.family(named: text) {
        case .found(let id): return id
        case .ambiguous(let ids):
            GraphOutput.fail("'\(text)' names a family in several services (\(ids.map(\.description).joined(separator: ", "))); write service/family.")
        case .notFound:
            GraphOutput.fail("there is no cache family '\(text)' in \(directory); 'cascade graph show' lists them.")
        }
        throw ExitCode(2)
    }
}

enum GraphOutput {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A usage or I/O problem as one plain sentence on stderr.
    static func fail(_ sentence: String) {
        error("cascade graph: \(sentence)")
    }

    /// Columns padded to their widest cell; the header row first.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = [Int](repeating: 0, count: first.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count { widths[column] = max(widths[column], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
