import Foundation

/// A cache key template such as `order:{orderId}:summary`: literal text and named parameters.
public struct KeyTemplate: Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Hashable, Sendable {
        case literal(String)
        case parameter(String)
    }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case empty
        case unclosedBrace
        case strayClosingBrace
        case emptyParameter
        case badParameterName(String)
        case repeatedParameter(String)
        case adjacentParameters(String, String)

        public var description: String {
            switch self {
            case .empty: return "is empty"
            case .unclosedBrace: return "has a '{' that is never closed"
            case .strayClosingBrace: return "has a '}' with no '{' before it"
            case .emptyParameter: return "has an empty parameter '{}'"
            case .badParameterName(let name):
                return "has parameter '\(name)', but parameter names are letters, digits and '_'"
            case .repeatedParameter(let name): return "uses parameter '\(name)' twice"
            case .adjacentParameters(let a, let b):
                return "puts '{\(a)}' right after '{\(b)}' with no text between, so a key cannot be split back"
            }
        }
    }

    public let text: String
    public let segments: [Segment]
    /// Parameter names in order of appearance.
    public let parameters: [String]

    public init(parsing text: String) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        var segments: [Segment] = []
        var parameters: [String] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "}" { throw .strayClosingBrace }
            if c != "{" {
                literal.append(c)
                index = text.index(after: index)
                continue
            }
            guard let close = text[index...].firstIndex(of: "}") else { throw .unclosedBrace }
            let name = String(text[text.index(after: index)..<close])
            guard !name.isEmpty else { throw .emptyParameter }
            guard name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw .badParameterName(name)
            }
            guard !parameters.contains(name) else { throw .repeatedParameter(name) }
            if !literal.isEmpty {
                segments.append(.literal(literal))
                literal = ""
            } else if case .parameter(let previous)? = segments.last {
                throw .adjacentParameters(name, previous)
            }
            segments.append(.parameter(name))
            parameters.append(name)
            index = text.index(after: close)
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.text = text
        self.segments = segments
        self.parameters = parameters
    }

    public var description: String { text }

    /// Characters of fixed text: the more, the more specific the template.
    public var literalLength: Int {
        segments.reduce(0) { total, segment in
            if case .literal(let text) = segment { return total + text.count }
            return total
        }
    }

    /// The key for the given parameter values; nil when one is missing.
    public func render(_ values: [String: String]) -> String? {
        var key = ""
        for segment in segments {
            switch segment {
            case .literal(let text): key += text
            case .parameter(let name):
                guard let value = values[name] else { return nil }
                key += value
            }
        }
        return key
    }

    /// Splits a concrete key back into parameter values; nil when the key does not fit.
    /// A parameter takes the text up to the first occurrence of the literal that follows it.
    public func match(_ key: Substring) -> [String: String]? {
        var values: [String: String] = [:]
        return walk(key) { values[$0] = String($1) } ? values : nil
    }

    /// Where each parameter's text lies in `key`, as UTF-8 offsets from its start, in the
    /// order of `parameters`; nil when the key does not fit (as `match` decides).
    public func matchRanges(_ key: Substring) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(parameters.count)
        let utf8 = key.utf8
        let fits = walk(key) { _, value in
            let start = utf8.distance(from: utf8.startIndex, to: value.startIndex)
            ranges.append(start..<start + value.utf8.count)
        }
        return fits ? ranges : nil
    }

    /// Whether `key` fits, as `match` decides, without building the values.
    public func matches(_ key: Substring) -> Bool { walk(key) { _, _ in } }

    /// Walks `key` along the segments, handing each parameter's text to `found`; false when the
    /// key does not fit.
    private func walk(_ key: Substring, _ found: (String, Substring) -> Void) -> Bool {
        var rest = key
        var index = 0
        while index < segments.count {
            switch segments[index] {
            case .literal(let text):
                guard rest.hasPrefix(text) else { return false }
                rest = rest.dropFirst(text.count)
            case .parameter(let name):
                if index + 1 < segments.count, case .literal(let next) = segments[index + 1] {
                    guard let start = Self.firstIndex(of: next, in: rest), start > rest.startIndex else { return false }
                    found(name, rest[..<start])
                    rest = rest[start...]
                } else {
                    guard !rest.isEmpty else { return false }
                    found(name, rest)
                    rest = rest[rest.endIndex...]
                }
            }
            index += 1
        }
        return rest.isEmpty
    }

    /// Where `literal` first starts in `text`. ASCII on both sides (the keys caches use) is
    /// searched by bytes: the bus matches every key it interns, and Foundation's search was a
    /// tenth of rebuilding the index. Other text keeps Foundation's comparison.
    private static func firstIndex(of literal: String, in text: Substring) -> Substring.Index? {
        let needle = literal.utf8
        let haystack = text.utf8
        guard needle.allSatisfy({ $0 < 0x80 }), haystack.allSatisfy({ $0 < 0x80 }) else {
            return text.range(of: literal)?.lowerBound
        }
        guard let first = needle.first else { return text.startIndex }
        var index = haystack.startIndex
        while let found = haystack[index...].firstIndex(of: first) {
            if haystack[found...].starts(with: needle) { return found }
            index = haystack.index(after: found)
        }
        return nil
    }
}
