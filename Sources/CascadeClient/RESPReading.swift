import CascadeRESP
import NIOCore

/// What the clients read out of a node's replies (CascadeRESP's `RESPValue`): RESP2 and the
/// RESP3 types a node may send.
extension RESPValue {
    /// The text of a simple or bulk string.
    public var text: String? {
        switch self {
        case .simple(let text): return text
        case .bulk(let bytes): return String(buffer: bytes)
        default: return nil
        }
    }

    /// An integer reply, or a string that holds one.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return Int64(value)
        case .simple, .bulk: return text.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The bytes of a bulk string, as keys and values are.
    public var bytes: [UInt8]? {
        if case .bulk(let buffer) = self { return Array(buffer.readableBytesView) }
        return nil
    }

    /// Field/value pairs of a RESP3 map or of a RESP2 flat array of pairs.
    public var pairs: [(String, RESPValue)]? {
        switch self {
        case .map(let pairs):
            return pairs.compactMap { key, value in key.text.map { ($0, value) } }
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

/// Decodes replies from bytes as they arrive, with CascadeRESP's reply decoder; `next()`
/// returns nil until a whole reply is in.
public struct RESPReplyReader {
    private var buffer = ByteBuffer()
    private var decoder = RESPReplyDecoder()

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.writeBytes(Array(bytes))
    }

    public mutating func next() throws(RESPDecodeError) -> RESPValue? {
        do {
            let value = try decoder.decode(buffer: &buffer)
            buffer.discardReadBytes()
            return value
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
