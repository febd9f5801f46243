/// A reply from a cache node, as `cascade check` needs it: RESP2 and the RESP3 types a node
/// may send. Its own small decoder keeps the check free of NIO and of the server's codec.
public indirect enum RESPReply: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPReply])
    case map([Pair])

    public struct Pair: Equatable, Sendable {
        public var key: RESPReply
        public var value: RESPReply
        public init(_ key: RESPReply, _ value: RESPReply) {
            self.key = key
            self.value = value
        }
    }

    /// The text of a simple or bulk string.
    public var text: String? {
        switch self {
        case .simple(let text): return text
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .simple, .bulk: return text.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// Field/value pairs of a RESP3 map or of a RESP2 flat array of pairs.
    public var pairs: [(String, RESPReply)]? {
        switch self {
        case .map(let pairs):
            return pairs.compactMap { pair in pair.key.text.map { ($0, pair.value) } }
        case .array(let items) where items.count % 2 == 0:
            return stride(from: 0, to: items.count, by: 2).compactMap { index in items[index].text.map { ($0, items[index + 1]) } }
        default:
            return nil
        }
    }
}

public struct RESPDecodeError: Error, Equatable, CustomStringConvertible {
    public var description: String
}

/// Decodes replies from a growing byte buffer; `next()` returns nil until a whole reply is in.
public struct RESPReplyReader: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private let maxDepth = 32

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        // Drop what is consumed once it is most of the buffer, so long scans stay small.
        if start > 65_536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func next() throws(RESPDecodeError) -> RESPReply? {
        var index = start
        guard let reply = try parse(&index, depth: 0) else { return nil }
        start = index
        return reply
    }

    private func line(_ index: inout Int) -> String? {
        var cursor = index
        while cursor + 1 < buffer.count {
            if buffer[cursor] == 13 && buffer[cursor + 1] == 10 {
                let text = String(decoding: buffer[index..<cursor], as: UTF8.self)
                index = cursor + 2
                return text
            }
            cursor += 1
        }
        return nil
    }

    private func parse(_ index: inout Int, depth: Int) throws(RESPDecodeError) -> RESPReply? {
        guard depth < maxDepth else { throw RESPDecodeError(description: "reply nested deeper than \(maxDepth)") }
        guard index < buffer.count else { return nil }
        let kind = buffer[index]
        var cursor = index + 1
        guard let header = line(&cursor) else { return nil }
        let reply: RESPReply
        switch kind {
        case UInt8(ascii: "+"): reply = .simple(header)
        case UInt8(ascii: "-"), UInt8(ascii: "!"): reply = .error(header)
        case UInt8(ascii: ":"):
            guard let value = Int64(header) else { throw RESPDecodeError(description: "bad integer '\(header.prefix(40))'") }
            reply = .integer(value)
        case UInt8(ascii: "_"): reply = .null
        case UInt8(ascii: "#"): reply = .integer(header == "t" ? 1 : 0)
        case UInt8(ascii: ","): reply = .simple(header)
        case UInt8(ascii: "$"), UInt8(ascii: "="):
            guard let length = Int(header), length >= -1 else { throw RESPDecodeError(description: "bad bulk length '\(header.prefix(40))'") }
            if length == -1 {
                reply = .null
            } else {
                guard cursor + length + 2 <= buffer.count else { return nil }
                reply = .bulk(Array(buffer[cursor..<(cursor + length)]))
                cursor += length + 2
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            guard let count = Int(header), count >= -1 else { throw RESPDecodeError(description: "bad aggregate length '\(header.prefix(40))'") }
            if count == -1 {
                reply = .null
                break
            }
            let elements = kind == UInt8(ascii: "%") ? count * 2 : count
            var items: [RESPReply] = []
            items.reserveCapacity(min(elements, 1024))
            for _ in 0..<elements {
                guard let item = try parse(&cursor, depth: depth + 1) else { return nil }
                items.append(item)
            }
            if kind == UInt8(ascii: "%") {
                reply = .map(stride(from: 0, to: items.count, by: 2).map { RESPReply.Pair(items[$0], items[$0 + 1]) })
            } else {
                reply = .array(items)
            }
        default:
            throw RESPDecodeError(description: "unexpected reply type byte \(kind)")
        }
        index = cursor
        return reply
    }
}

/// Encodes one command as a RESP array of bulk strings; keys stay bytes, as SCAN gave them.
public func encodeRESPCommand(_ arguments: [[UInt8]]) -> [UInt8] {
    var bytes = Array("*\(arguments.count)\r\n".utf8)
    for argument in arguments {
        bytes.append(contentsOf: "$\(argument.count)\r\n".utf8)
        bytes.append(contentsOf: argument)
        bytes.append(contentsOf: [13, 10])
    }
    return bytes
}

public func encodeRESPCommand(_ arguments: String...) -> [UInt8] {
    encodeRESPCommand(arguments.map { Array($0.utf8) })
}
