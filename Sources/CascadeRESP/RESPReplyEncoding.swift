import NIOCore

/// RESP2 (the default) or RESP3 (after `HELLO 3`): decides how nulls, maps and sets look.
public enum RESPProtocolVersion: Int, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// Writes replies straight into the outbound buffer, so a pipelined batch of replies is one
/// buffer and one write.
extension ByteBuffer {
    public mutating func writeRESPSimpleString(_ text: StaticString) {
        writeInteger(UInt8(ascii: "+"))
        writeStaticString(text)
        writeCRLF()
    }

    public mutating func writeRESPSimpleString(_ text: String) {
        writeInteger(UInt8(ascii: "+"))
        writeString(text)
        writeCRLF()
    }

    public mutating func writeRESPOK() {
        writeStaticString("+OK\r\n")
    }

    /// `message` starts with the error code, e.g. `ERR unknown command` or `WRONGTYPE ...`.
    /// Line breaks are replaced, as a simple error cannot hold them.
    public mutating func writeRESPError(_ message: String) {
        writeInteger(UInt8(ascii: "-"))
        if message.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            writeBytes(message.utf8.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 })
        } else {
            writeString(message)
        }
        writeCRLF()
    }

    public mutating func writeRESPInteger(_ value: Int) {
        writeInteger(UInt8(ascii: ":"))
        writeDecimal(value)
        writeCRLF()
    }

    public mutating func writeRESPBulkString(_ bytes: UnsafeRawBufferPointer) {
        writeRESPBulkHeader(length: bytes.count)
        writeBytes(bytes)
        writeCRLF()
    }

    public mutating func writeRESPBulkString(_ bytes: ByteBuffer) {
        writeRESPBulkHeader(length: bytes.readableBytes)
        writeImmutableBuffer(bytes)
        writeCRLF()
    }

    public mutating func writeRESPBulkString(_ text: String) {
        writeRESPBulkHeader(length: text.utf8.count)
        writeString(text)
        writeCRLF()
    }

    /// `$<length>\r\n`, what every bulk string starts with.
    private mutating func writeRESPBulkHeader(length: Int) {
        writeInteger(UInt8(ascii: "$"))
        writeDecimal(length)
        writeCRLF()
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    public mutating func writeRESPNull(_ version: RESPProtocolVersion) {
        writeStaticString(version == .resp3 ? "_\r\n" : "$-1\r\n")
    }

    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    public mutating func writeRESPNullArray(_ version: RESPProtocolVersion) {
        writeStaticString(version == .resp3 ? "_\r\n" : "*-1\r\n")
    }

    public mutating func writeRESPArrayHeader(_ count: Int) {
        writeInteger(UInt8(ascii: "*"))
        writeDecimal(count)
        writeCRLF()
    }

    /// A map of `count` pairs: `%` in RESP3, a flat array of 2×count in RESP2.
    public mutating func writeRESPMapHeader(_ count: Int, _ version: RESPProtocolVersion) {
        writeInteger(UInt8(ascii: version == .resp3 ? "%" : "*"))
        writeDecimal(version == .resp3 ? count : count * 2)
        writeCRLF()
    }

    /// A set: `~` in RESP3, an array in RESP2.
    public mutating func writeRESPSetHeader(_ count: Int, _ version: RESPProtocolVersion) {
        writeInteger(UInt8(ascii: version == .resp3 ? "~" : "*"))
        writeDecimal(count)
        writeCRLF()
    }

    /// A double: `,` in RESP3, a bulk string in RESP2.
    public mutating func writeRESPDouble(_ value: Double, _ version: RESPProtocolVersion) {
        if version == .resp3 {
            writeInteger(UInt8(ascii: ","))
            writeString(String(value))
            writeCRLF()
        } else {
            writeRESPBulkString(String(value))
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, 1/0 in RESP2.
    public mutating func writeRESPBoolean(_ value: Bool, _ version: RESPProtocolVersion) {
        if version == .resp3 {
            writeStaticString(value ? "#t\r\n" : "#f\r\n")
        } else {
            writeRESPInteger(value ? 1 : 0)
        }
    }

    /// Text for humans (INFO): a verbatim string `=` in RESP3, a bulk string in RESP2.
    public mutating func writeRESPVerbatim(_ text: String, _ version: RESPProtocolVersion) {
        guard version == .resp3 else { return writeRESPBulkString(text) }
        writeInteger(UInt8(ascii: "="))
        writeDecimal(text.utf8.count + 4)
        writeCRLF()
        writeStaticString("txt:")
        writeString(text)
        writeCRLF()
    }

    @inline(__always)
    mutating func writeCRLF() {
        writeInteger(UInt16(0x0D0A))
    }

    /// Decimal digits without going through String.
    @inline(__always)
    mutating func writeDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &digits) { raw -> Int in
            var position = 24
            repeat {
                position -= 1
                raw[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                position -= 1
                raw[position] = UInt8(ascii: "-")
            }
            return 24 - position
        }
        withUnsafeBytes(of: &digits) { raw in
            _ = writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }
}
