import NIOCore

/// A reply as a value, for replies built on cold paths (COMMAND DOCS, HELLO, CASCADE.META)
/// and for tests. Hot paths write straight into the buffer instead.
public indirect enum RESPValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk(ByteBuffer)
    case null
    case array([RESPValue])
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case double(Double)
    case boolean(Bool)

    public static func bulk(_ text: String) -> RESPValue { .bulk(ByteBuffer(string: text)) }

    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simple(let a), .simple(let b)), (.error(let a), .error(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.bulk(let a), .bulk(let b)): return a == b
        case (.null, .null): return true
        case (.array(let a), .array(let b)), (.set(let a), .set(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.double(let a), .double(let b)): return a == b
        case (.boolean(let a), .boolean(let b)): return a == b
        default: return false
        }
    }
}

extension ByteBuffer {
    public mutating func writeRESPValue(_ value: RESPValue, _ version: RESPProtocolVersion) {
        switch value {
        case .simple(let text): writeRESPSimpleString(text)
        case .error(let text): writeRESPError(text)
        case .integer(let number): writeRESPInteger(number)
        case .bulk(let bytes): writeRESPBulkString(bytes)
        case .null: writeRESPNull(version)
        case .array(let items):
            writeRESPArrayHeader(items.count)
            for item in items { writeRESPValue(item, version) }
        case .map(let pairs):
            writeRESPMapHeader(pairs.count, version)
            for (key, item) in pairs {
                writeRESPValue(key, version)
                writeRESPValue(item, version)
            }
        case .set(let items):
            writeRESPSetHeader(items.count, version)
            for item in items { writeRESPValue(item, version) }
        case .double(let number): writeRESPDouble(number, version)
        case .boolean(let flag): writeRESPBoolean(flag, version)
        }
    }
}
