import ArgumentParser
import CascadeGraph
import Foundation

/// One line on standard output, at once (benchmarks print as they go).
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// The graph of a directory, or its problems on standard error and the exit status of
/// `cascade graph validate`.
func loadGraph(directory: String) throws -> (CacheGraph, GraphLoadResult) {
    do {
        return try GraphLoader.loadUsable(directory: directory)
    } catch {
        for line in error.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        throw ExitCode(error.exitCode)
    }
}

/// Builds a benchmark's C baseline (scripts/bench/*.c) against librdkafka with cc; returns the
/// binary's path.
func compileBaseline(_ source: String, name: String) throws -> String {
    guard FileManager.default.fileExists(atPath: source) else {
        throw ValidationError("cannot find \(source); run from the repository root or pass --baseline")
    }
    let binary = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())").path
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-O2", "-o", binary, source, "-lrdkafka", "-lpthread"]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw ValidationError("cc could not build \(source)") }
    return binary
}
