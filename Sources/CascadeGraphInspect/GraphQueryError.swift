/// Why a `cascade graph` question has no answer: one plain sentence, and the exit status
/// (2 for usage and I/O problems), for the command to print and exit with.
public struct GraphQueryError: Error, Sendable, CustomStringConvertible {
    public var sentence: String
    public var exitCode: Int32

    public init(_ sentence: String, exitCode: Int32 = 2) {
        self.sentence = sentence
        self.exitCode = exitCode
    }

    public var description: String { sentence }
}

/// Columns padded to their widest cell; the header row first.
public func graphTable(_ rows: [[String]]) -> String {
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
