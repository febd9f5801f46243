/// A place in a graph file, 1-based; line 0 means the whole file (or directory).
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        line > 0 ? "\(file):\(line):\(column)" : file
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found while loading the graph, with where it is and a plain sentence.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable {
        case error, warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, _ location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `file:line:column: error: sentence`, the form editors and compilers use.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// Collects diagnostics while a pass walks the files; kept sorted when read.
struct DiagnosticLog {
    private(set) var items: [Diagnostic] = []

    mutating func error(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.error, location, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.warning, location, message))
    }

    static func sorted(_ items: [Diagnostic]) -> [Diagnostic] {
        items.sorted { ($0.location, $0.severity.rawValue, $0.message) < ($1.location, $1.severity.rawValue, $1.message) }
    }
}
