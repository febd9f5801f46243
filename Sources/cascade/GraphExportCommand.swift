import ArgumentParser
import CascadeGraph
import CascadeGraphInspect
import Foundation

struct GraphExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the graph as Graphviz DOT, JSON, or SVG (through Graphviz's dot).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case dot, json, svg
    }

    @OptionGroup var options: GraphOptions

    @Option(help: "dot, json or svg.")
    var format: Format = .dot

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write to this file instead of stdout.", valueName: "file"))
    var output: String?

    func run() async throws {
        let (graph, _) = try options.load()
        let analysis = GraphAnalysis(graph)
        let text: Data
        switch format {
        case .dot: text = Data(GraphExport.dot(analysis).utf8)
        case .json: text = Data((GraphExport.json(analysis) + "\n").utf8)
        case .svg: text = try await options.answer { try graphSVG(GraphExport.dot(analysis)) }
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: text) else {
                GraphOutput.fail("cannot write \(output).")
                throw ExitCode(2)
            }
        } else {
            FileHandle.standardOutput.write(text)
        }
    }
}
