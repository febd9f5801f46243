import Foundation

/// What loading a graph directory gave: the graph when it has no errors, and every diagnostic.
public struct GraphLoadResult: Sendable {
    public var graph: CacheGraph?
    /// Sorted by file, line and column.
    public var diagnostics: [Diagnostic]

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

/// The directory itself could not be read: a usage or I/O problem, not a graph error.
public struct GraphDirectoryError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "cannot read graph directory \(path): \(reason)" }
}

public enum GraphLoader {
    /// Loads every `*.yaml` / `*.yml` file of `directory`, one service per file.
    public static func load(directory: String) throws(GraphDirectoryError) -> GraphLoadResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw GraphDirectoryError(path: directory, reason: "it does not exist")
        }
        guard isDirectory.boolValue else { throw GraphDirectoryError(path: directory, reason: "it is not a directory") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw GraphDirectoryError(path: directory, reason: "its contents cannot be listed")
        }
        var files: [(path: String, text: String)] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GraphDirectoryError(path: directory, reason: "\(name) cannot be read")
            }
            files.append((path, String(decoding: data, as: UTF8.self)))
        }
        return load(files: files, directory: directory)
    }

    /// Loads from texts already in memory: (path for messages, YAML text).
    public static func load(files: [(path: String, text: String)], directory: String = "graph") -> GraphLoadResult {
        guard !files.isEmpty else {
            return GraphLoadResult(graph: nil, diagnostics: [
                Diagnostic(.error, SourceLocation(file: directory), "the graph is empty: no .yaml files, one per service, were found."),
            ])
        }
        var diagnostics: [Diagnostic] = []
        var drafts: [ServiceDraft] = []
        for file in files {
            let (draft, found) = ServiceFileParser.parse(file.text, file: file.path)
            diagnostics += found
            if let draft { drafts.append(draft) }
        }
        let (graph, found) = GraphValidator.validate(drafts)
        diagnostics += found
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return GraphLoadResult(graph: hasErrors ? nil : graph, diagnostics: DiagnosticLog.sorted(diagnostics))
    }
}

/// Why a graph directory cannot be used: the lines to print, and the exit status (1: the
/// graph has errors, 2: the directory could not be read).
public struct GraphUnusable: Error, Sendable {
    public var lines: [String]
    public var exitCode: Int32
}

extension GraphLoader {
    /// The graph of a directory, as every command that needs one loads it (bus, dev,
    /// benchmarks): the same messages and exit codes as `cascade graph validate`.
    public static func loadUsable(directory: String) throws(GraphUnusable) -> (CacheGraph, GraphLoadResult) {
        let result: GraphLoadResult
        do {
            result = try load(directory: directory)
        } catch {
            throw GraphUnusable(lines: ["cascade graph: \(error)."], exitCode: 2)
        }
        guard let graph = result.graph else {
            throw GraphUnusable(
                lines: result.errors.map(\.description)
                    + ["\(directory) has \(result.errors.count) error(s); the graph cannot be used until they are fixed."],
                exitCode: 1)
        }
        return (graph, result)
    }
}
