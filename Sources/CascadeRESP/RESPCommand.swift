import NIOCore

/// One client command: its arguments as slices of the received bytes, no String per argument.
public struct RESPCommand: Sendable, Equatable {
    public var arguments: [ByteBuffer]

    public init(arguments: [ByteBuffer]) {
        self.arguments = arguments
    }

    public init(_ texts: String...) {
        self.arguments = texts.map { ByteBuffer(string: $0) }
    }
}

/// Limits that keep one client from making the server hold unbounded memory.
public struct RESPLimits: Sendable, Equatable {
    /// Largest bulk string (Redis: proto-max-bulk-len, 512 MB).
    public var maxBulkLength: Int
    /// Most arguments in one command.
    public var maxArrayLength: Int
    /// Longest inline command line (Redis: 64 KB).
    public var maxInlineLength: Int
    /// Most bytes of unfinished commands one client may have buffered (Redis:
    /// client-query-buffer-limit, 1 GB); past it the client is closed.
    public var maxQueryBuffer: Int

    public init(
        maxBulkLength: Int = 512 << 20, maxArrayLength: Int = 1 << 20, maxInlineLength: Int = 64 << 10,
        maxQueryBuffer: Int = 1 << 30
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxArrayLength = maxArrayLength
        self.maxInlineLength = maxInlineLength
        self.maxQueryBuffer = maxQueryBuffer
    }
}

/// Why a frame was refused; `description` is Redis's own wording, sent back as `-ERR ...`
/// before the connection is closed.
public enum RESPDecodingError: Error, Equatable, CustomStringConvertible {
    case invalidBulkLength
    case invalidArrayLength
    case bulkTooLarge(Int)
    case arrayTooLarge(Int)
    case inlineTooLong
    /// A frame element that is not a bulk string (nested arrays included: commands are flat).
    case expectedBulk(got: UInt8)
    case missingCRLF
    case unbalancedQuotes

    public var description: String {
        switch self {
        case .invalidBulkLength, .bulkTooLarge: return "Protocol error: invalid bulk length"
        case .invalidArrayLength, .arrayTooLarge: return "Protocol error: invalid multibulk length"
        case .inlineTooLong: return "Protocol error: too big inline request"
        case .expectedBulk(let byte):
            let shown = (32..<127).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
            return "Protocol error: expected '$', got '\(shown)'"
        case .missingCRLF: return "Protocol error: expected CRLF after bulk data"
        case .unbalancedQuotes: return "Protocol error: unbalanced quotes in request"
        }
    }
}
