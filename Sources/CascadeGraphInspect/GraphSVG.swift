import Foundation

/// `graph export --format svg`: DOT piped through Graphviz's `dot -Tsvg`, with a clear
/// sentence when Graphviz is not installed.
public func graphSVG(_ dot: String) throws(GraphQueryError) -> Data {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    guard let tool = paths.map({ "\($0)/dot" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw GraphQueryError("svg needs Graphviz's 'dot', which is not installed (apt-get install graphviz); --format dot works without it.")
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
        throw GraphQueryError("could not start \(tool).")
    }
    // DOT of a large graph may not fit a pipe buffer: write on another thread while reading.
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
        throw GraphQueryError("dot failed: \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    return svg
}
