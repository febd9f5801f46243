import NIOCore

/// Splits an inline command line into arguments as Redis does: spaces separate, and
/// "double" or 'single' quotes group, with backslash escapes inside double quotes.
enum InlineCommandSplitter {
    static func split(_ buffer: ByteBuffer, from start: Int, to newline: Int) throws -> [ByteBuffer] {
        var end = newline
        if end > start, buffer.getInteger(at: end - 1, as: UInt8.self) == UInt8(ascii: "\r") { end -= 1 }
        guard let line = buffer.getBytes(at: start, length: end - start) else { return [] }
        var arguments: [ByteBuffer] = []
        var index = 0
        while index < line.count {
            while index < line.count, isSpace(line[index]) { index += 1 }
            guard index < line.count else { break }
            var current: [UInt8] = []
            if line[index] == UInt8(ascii: "\"") || line[index] == UInt8(ascii: "'") {
                let quote = line[index]
                index += 1
                var closed = false
                while index < line.count {
                    let byte = line[index]
                    if byte == quote {
                        closed = true
                        index += 1
                        break
                    }
                    if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\"), index + 1 < line.count {
                        current.append(unescape(line[index + 1]))
                        index += 2
                        continue
                    }
                    current.append(byte)
                    index += 1
                }
                // Redis requires a space (or the end) after a closing quote.
                guard closed, index == line.count || isSpace(line[index]) else { throw RESPDecodingError.unbalancedQuotes }
            } else {
                while index < line.count, !isSpace(line[index]) {
                    current.append(line[index])
                    index += 1
                }
            }
            arguments.append(ByteBuffer(bytes: current))
        }
        return arguments
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    private static func unescape(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return UInt8(ascii: "\n")
        case UInt8(ascii: "r"): return UInt8(ascii: "\r")
        case UInt8(ascii: "t"): return UInt8(ascii: "\t")
        default: return byte
        }
    }
}
