import ArgumentParser
import CascadeGraph
import CascadeGraphInspect

struct GraphValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check every service file; list all errors and warnings with file:line:column.")

    @OptionGroup var options: GraphOptions

    func run() async throws {
        let result: GraphLoadResult
        do {
            result = try GraphLoader.load(directory: options.directory)
        } catch {
            GraphOutput.fail("\(error).")
            throw ExitCode(2)
        }
        let report = GraphValidationReport(result)
        if options.json {
            print(GraphExport.encode(report))
        } else {
            for diagnostic in result.diagnostics { GraphOutput.error(diagnostic.description) }
            if report.valid {
                print(report.summary(directory: options.directory))
            } else {
                GraphOutput.error(report.summary(directory: options.directory))
            }
        }
        if !report.valid { throw ExitCode(1) }
    }
}

struct GraphShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List services, entities and cache families with their dependencies.")

    @OptionGroup var options: GraphOptions

    func run() async throws {
        let (graph, _) = try options.load()
        let analysis = GraphAnalysis(graph)
        print(options.json ? GraphExport.json(analysis) : graphShowText(analysis))
    }
}

struct GraphCyclesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cycles", abstract: "List the circular components (strongly connected) and their edges.")

    @OptionGroup var options: GraphOptions

    func run() async throws {
        let (graph, _) = try options.load()
        print(GraphCycle.render(GraphCycle.all(GraphAnalysis(graph)), json: options.json))
    }
}
