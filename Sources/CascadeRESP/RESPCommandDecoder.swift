import NIOCore

/// Decodes client commands: RESP arrays of bulk strings, and inline commands (`PING\r\n`) as
/// telnet and some tools send them. Single-step: returns nil and consumes nothing until a whole
/// frame is there, validates the whole frame before returning it, and keeps arguments as
/// slices of the input.
public struct RESPCommandDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPCommand

    public let limits: RESPLimits
    /// Bytes the last incomplete frame needs at least: skips re-parsing a large frame on
    /// every small read.
    private var bytesNeeded = 0

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPCommand? {
        while true {
            guard buffer.readableBytes > 0, buffer.readableBytes >= bytesNeeded else { return nil }
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            let result = first == UInt8(ascii: "*") ? try decodeArray(buffer) : try decodeInline(buffer)
            switch result {
            case .incomplete(let needed):
                bytesNeeded = needed
                return nil
            case .skip(let end):
                // An empty array or blank line: nothing to run, look at what follows.
                buffer.moveReaderIndex(to: end)
                bytesNeeded = 0
            case .command(let command, let end):
                buffer.moveReaderIndex(to: end)
                bytesNeeded = 0
                return command
            }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPCommand? {
        try decode(buffer: &buffer)
    }

    private enum Step {
        case incomplete(needed: Int)
        case skip(end: Int)
        case command(RESPCommand, end: Int)
    }

    private func decodeArray(_ buffer: ByteBuffer) throws -> Step {
        let start = buffer.readerIndex
        guard let (count, afterHeader) = try readLength(buffer, at: start + 1, error: .invalidArrayLength) else {
            return .incomplete(needed: 0)
        }
        if count <= 0 { return .skip(end: afterHeader) }
        guard count <= limits.maxArrayLength else { throw RESPDecodingError.arrayTooLarge(count) }
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(min(count, 64))
        var index = afterHeader
        let end = buffer.writerIndex
        for _ in 0..<count {
            guard index < end else { return .incomplete(needed: index - start + 1) }
            guard let marker = buffer.getInteger(at: index, as: UInt8.self) else { return .incomplete(needed: 0) }
            guard marker == UInt8(ascii: "$") else { throw RESPDecodingError.expectedBulk(got: marker) }
            guard let (length, dataStart) = try readLength(buffer, at: index + 1, error: .invalidBulkLength) else {
                return .incomplete(needed: 0)
            }
            guard length >= 0 else { throw RESPDecodingError.invalidBulkLength }
            guard length <= limits.maxBulkLength else { throw RESPDecodingError.bulkTooLarge(length) }
            let frameEnd = dataStart + length + 2
            guard frameEnd <= end else { return .incomplete(needed: frameEnd - start) }
            guard buffer.getInteger(at: dataStart + length, as: UInt16.self) == 0x0D0A else {
                throw RESPDecodingError.missingCRLF
            }
            guard let argument = buffer.getSlice(at: dataStart, length: length) else { return .incomplete(needed: 0) }
            arguments.append(argument)
            index = frameEnd
        }
        return .command(RESPCommand(arguments: arguments), end: index)
    }

    /// Reads `digits\r\n` at `index`; nil when the line is not complete yet.
    private func readLength(_ buffer: ByteBuffer, at index: Int, error: RESPDecodingError) throws -> (Int, Int)? {
        var value = 0
        var negative = false
        var position = index
        let end = buffer.writerIndex
        var digits = 0
        while position < end {
            guard let byte = buffer.getInteger(at: position, as: UInt8.self) else { return nil }
            switch byte {
            case UInt8(ascii: "\r"):
                guard position + 1 < end else { return nil }
                guard buffer.getInteger(at: position + 1, as: UInt8.self) == UInt8(ascii: "\n"), digits > 0 else {
                    throw error
                }
                return (negative ? -value : value, position + 2)
            case UInt8(ascii: "-") where position == index:
                negative = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                guard digits <= 18 else { throw error }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            default:
                throw error
            }
            position += 1
        }
        return nil
    }

    private func decodeInline(_ buffer: ByteBuffer) throws -> Step {
        let start = buffer.readerIndex
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > limits.maxInlineLength { throw RESPDecodingError.inlineTooLong }
            return .incomplete(needed: buffer.readableBytes + 1)
        }
        guard newline - start <= limits.maxInlineLength else { throw RESPDecodingError.inlineTooLong }
        let arguments = try InlineCommandSplitter.split(buffer, from: start, to: newline)
        if arguments.isEmpty { return .skip(end: newline + 1) }
        return .command(RESPCommand(arguments: arguments), end: newline + 1)
    }
}
