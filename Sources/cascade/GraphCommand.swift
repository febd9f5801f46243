import ArgumentParser
import CascadeGraph
import CascadeGraphInspect
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

    /// Runs `body`; a question with no answer is printed as a sentence and exits with its status.
    func answer<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as GraphQueryError {
            GraphOutput.fail(error.sentence)
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
}
