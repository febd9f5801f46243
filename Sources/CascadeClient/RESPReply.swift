import CascadeRESP
import NIOCore

/// A reply from a cache node, as `cascade check` needs it: RESP2 and the RESP3 types a node
/// may send, as plain Swift values (keys as byte arrays).
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

extension RESPReply {
    /// The check's view of a reply decoded by CascadeRESP's codec: RESP3 sets and pushes read
    /// as arrays, booleans as 1 or 0, doubles as their text.
    public init(_ value: RESPValue) {
        switch value {
        case .simple(let text): self = .simple(text)
        case .error(let text): self = .error(text)
        case .integer(let number): self = .integer(Int64(number))
        case .bulk(let bytes): self = .bulk(Array(bytes.readableBytesView))
        case .null: self = .null
        case .array(let items), .set(let items): self = .array(items.map(RESPReply.init))
        case .map(let pairs): self = .map(pairs.map { Pair(RESPReply($0.0), RESPReply($0.1)) })
        case .double(let number): self = .simple(String(number))
        case .boolean(let flag): self = .integer(flag ? 1 : 0)
        }
    }
}

/// Decodes replies from bytes as they arrive, with CascadeRESP's reply decoder; `next()`
/// returns nil until a whole reply is in.
public struct RESPReplyReader {
    private var buffer = ByteBuffer()
    private var decoder = RESPReplyDecoder()

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.writeBytes(Array(bytes))
    }

    public mutating func next() throws(RESPDecodeError) -> RESPReply? {
        do {
            let value = try decoder.decode(buffer: &buffer)
            buffer.discardReadBytes()
            return value.map(RESPReply.init)
        } catch {
            throw RESPDecodeError(description: "\(error)")
        }
    }
}

/// Encodes one command as a RESP array of bulk strings; keys stay bytes, as SCAN gave them.
public func encodeRESPCommand(_ arguments: [[UInt8]]) -> [UInt8] {
    var buffer = ByteBuffer()
    buffer.writeRESPCommand(arguments)
    return Array(buffer.readableBytesView)
}

public func encodeRESPCommand(_ arguments: String...) -> [UInt8] {
    encodeRESPCommand(arguments.map { Array($0.utf8) })
}
