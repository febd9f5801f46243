import NIOCore

/// Decodes replies, the client's half of the codec: RESP2 and RESP3 (maps, sets, pushes as
/// arrays, doubles, booleans, nulls, blob and verbatim strings). Single-step like
/// `RESPCommandDecoder`: nil and nothing consumed until a whole reply is there, the whole reply
/// validated before it is returned, bulk strings kept as slices of the input, nesting capped.
public struct RESPReplyDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    public let limits: RESPLimits
    public let maxDepth: Int
    /// A header line (`+OK`, `$5`, ...) longer than this without its CRLF is not RESP.
    static let maxLineLength = 1 << 20

    public init(limits: RESPLimits = RESPLimits(), maxDepth: Int = 32) {
        self.limits = limits
        self.maxDepth = maxDepth
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        guard let (value, end) = try parse(buffer, at: buffer.readerIndex, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: end)
        return value
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    /// The reply starting at `index` and where it ends, or nil when it is not all there.
    private func parse(_ buffer: ByteBuffer, at index: Int, depth: Int) throws(RESPReplyDecodingError) -> (RESPValue, Int)? {
        guard depth < maxDepth else { throw .nestedTooDeep(maxDepth) }
        guard let kind = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        guard let (header, next) = try line(buffer, from: index + 1) else { return nil }
        switch kind {
        case UInt8(ascii: "+"): return (.simple(header), next)
        case UInt8(ascii: "-"): return (.error(header), next)
        case UInt8(ascii: ":"):
            guard let value = Int(header) else { throw .badNumber(String(header.prefix(40))) }
            return (.integer(value), next)
        case UInt8(ascii: "_"): return (.null, next)
        case UInt8(ascii: "#"):
            guard header == "t" || header == "f" else { throw .badNumber(String(header.prefix(40))) }
            return (.boolean(header == "t"), next)
        case UInt8(ascii: ","):
            guard let value = Double(header) ?? RESPReplyDecoder.specialDoubles[header] else { throw .badNumber(String(header.prefix(40))) }
            return (.double(value), next)
        case UInt8(ascii: "("): return (.simple(header), next)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = Int(header), length >= -1, length <= limits.maxBulkLength else { throw .badLength(String(header.prefix(40))) }
            if length == -1 { return (.null, next) }
            guard next + length + 2 <= buffer.writerIndex else { return nil }
            guard buffer.getInteger(at: next + length, as: UInt16.self) == 0x0D0A else { throw .missingCRLF }
            var payload = buffer.getSlice(at: next, length: length) ?? ByteBuffer()
            switch kind {
            case UInt8(ascii: "!"): return (.error(String(buffer: payload)), next + length + 2)
            case UInt8(ascii: "="):
                // `txt:` or `mkd:` before the text names its format.
                payload.moveReaderIndex(forwardBy: min(4, payload.readableBytes))
                return (.bulk(payload), next + length + 2)
            default: return (.bulk(payload), next + length + 2)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            guard let count = Int(header), count >= -1, count <= limits.maxArrayLength else { throw .badLength(String(header.prefix(40))) }
            if count == -1 { return (.null, next) }
            var cursor = next
            var items: [RESPValue] = []
            items.reserveCapacity(min(kind == UInt8(ascii: "%") ? count * 2 : count, 1024))
            for _ in 0..<(kind == UInt8(ascii: "%") ? count * 2 : count) {
                guard let (item, end) = try parse(buffer, at: cursor, depth: depth + 1) else { return nil }
                items.append(item)
                cursor = end
            }
            switch kind {
            case UInt8(ascii: "%"): return (.map(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }), cursor)
            case UInt8(ascii: "~"): return (.set(items), cursor)
            default: return (.array(items), cursor)
            }
        default:
            throw .unexpectedType(kind)
        }
    }

    /// The text up to the next CRLF from `index`, and the index after it.
    private func line(_ buffer: ByteBuffer, from index: Int) throws(RESPReplyDecodingError) -> (String, Int)? {
        guard index <= buffer.writerIndex else { return nil }
        let view = buffer.readableBytesView
        guard let cr = view[index...].firstIndex(of: 13) else {
            if buffer.writerIndex - index > RESPReplyDecoder.maxLineLength { throw .lineTooLong }
            return nil
        }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == 10 else { throw .missingCRLF }
        return (buffer.getString(at: index, length: cr - index) ?? "", cr + 2)
    }

    private static let specialDoubles: [String: Double] = ["inf": .infinity, "-inf": -.infinity, "nan": .nan]
}

public enum RESPReplyDecodingError: Error, Equatable, CustomStringConvertible {
    case unexpectedType(UInt8)
    case badLength(String)
    case badNumber(String)
    case nestedTooDeep(Int)
    case missingCRLF
    case lineTooLong

    public var description: String {
        switch self {
        case .unexpectedType(let byte): return "unexpected reply type byte \(byte)"
        case .badLength(let text): return "bad length '\(text)'"
        case .badNumber(let text): return "bad number '\(text)'"
        case .nestedTooDeep(let depth): return "reply nested deeper than \(depth)"
        case .missingCRLF: return "expected CRLF"
        case .lineTooLong: return "a reply line without CRLF longer than \(RESPReplyDecoder.maxLineLength) bytes"
        }
    }
}

extension ByteBuffer {
    /// One command as clients send it: an array of bulk strings.
    public mutating func writeRESPCommand<Argument: Collection<UInt8>>(_ arguments: [Argument]) {
        writeRESPArrayHeader(arguments.count)
        for argument in arguments {
            writeString("$\(argument.count)\r\n")
            writeBytes(argument)
            writeStaticString("\r\n")
        }
    }
}
