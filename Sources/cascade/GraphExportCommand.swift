import ArgumentParser
import CascadeGraph
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
        case .svg: text = try Self.svg(GraphExport.dot(analysis))
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

    /// Pipes DOT through `dot -Tsvg`; a clear message when Graphviz is not installed.
    static func svg(_ dot: String) throws -> Data {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let tool = paths.map({ "\($0)/dot" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            GraphOutput.fail("svg needs Graphviz's 'dot', which is not installed (apt-get install graphviz); --format dot works without it.")
            throw ExitCode(2)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            GraphOutput.fail("could not start \(tool).")
            throw ExitCode(2)
        }
        // Read while writing would matter for huge graphs; DOT of a service graph fits a pipe buffer
        // only sometimes, so write on another thread.
        let writer = input.fileHandleForWriting
        let bytes = Data(dot.utf8)
        Thread.detachNewThread {
            writer.write(bytes)
            try? writer.close()
        }
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            GraphOutput.fail("dot failed: \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
            throw ExitCode(2)
        }
        return svg
    }
}
