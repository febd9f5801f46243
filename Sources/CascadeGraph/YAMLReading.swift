import Yams

/// Small typed readers over Yams nodes that report a diagnostic, with the node's position,
/// instead of throwing, so one pass finds every problem in a file.
struct YAMLReading {
    let file: String
    var log = DiagnosticLog()

    init(file: String) {
        self.file = file
    }

    func location(_ node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: file) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    mutating func error(_ node: Node, _ message: String) {
        log.error(location(node), message)
    }

    mutating func warning(_ node: Node, _ message: String) {
        log.warning(location(node), message)
    }

    /// A mapping's entries with string keys; reports keys outside `allowed` (with a suggestion).
    mutating func fields(_ node: Node, _ what: String, allowed: [String]) -> [(name: String, key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping of fields (\(allowed.joined(separator: ", "))), not \(describe(node)).")
            return nil
        }
        var result: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = scalarText(key) else {
                error(key, "\(what) has a key that is not plain text.")
                continue
            }
            if !allowed.isEmpty, !allowed.contains(name) {
                var sentence = "unknown field '\(name)' in \(what)"
                if let close = closest(name, among: allowed) { sentence += "; did you mean '\(close)'?" }
                else { sentence += "; expected one of \(allowed.joined(separator: ", "))." }
                error(key, sentence)
                continue
            }
            result.append((name, key, value))
        }
        return result
    }

    /// The entries of a mapping whose keys are names chosen by the author (families, entities).
    mutating func namedEntries(_ node: Node, _ what: String) -> [(name: String, key: Node, value: Node)]? {
        fields(node, what, allowed: [])
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let text = scalarText(node), !text.isEmpty else {
            error(node, "\(what) must be a non-empty text value, not \(describe(node)).")
            return nil
        }
        return text
    }

    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let items) = node else {
            error(node, "\(what) must be a list, not \(describe(node)).")
            return nil
        }
        return Array(items)
    }

    mutating func stringList(_ node: Node, _ what: String) -> [(String, Node)] {
        guard let items = sequence(node, what) else { return [] }
        return items.compactMap { item in string(item, "each entry of \(what)").map { ($0, item) } }
    }

    func scalarText(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        return scalar.string
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return scalar.string.isEmpty ? "an empty value" : "the text '\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// The allowed word closest to a misspelt one, if it is close enough to be a likely typo.
func closest(_ word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, word.count / 3) else { return nil }
    return best.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
