import CascadeRESP
import NIOCore
import Testing

private func encoded(_ version: RESPProtocolVersion, _ write: (inout ByteBuffer) -> Void) -> String {
    var buffer = ByteBuffer()
    write(&buffer)
    return String(buffer: buffer)
}

@Suite struct RESPReplyEncodingTests {
    @Test func scalarsLookLikeRedis() {
        #expect(encoded(.resp2) { $0.writeRESPOK() } == "+OK\r\n")
        #expect(encoded(.resp2) { $0.writeRESPInteger(-42) } == ":-42\r\n")
        #expect(encoded(.resp2) { $0.writeRESPInteger(1_234_567_890) } == ":1234567890\r\n")
        #expect(encoded(.resp2) { $0.writeRESPInteger(Int.min) } == ":\(Int.min)\r\n")
        #expect(encoded(.resp2) { $0.writeRESPBulkString("hi") } == "$2\r\nhi\r\n")
        #expect(encoded(.resp2) { $0.writeRESPError("ERR bad\r\nthing") } == "-ERR bad  thing\r\n")
    }

    @Test func nullsAndAggregatesDependOnTheProtocol() {
        #expect(encoded(.resp2) { $0.writeRESPNull(.resp2) } == "$-1\r\n")
        #expect(encoded(.resp3) { $0.writeRESPNull(.resp3) } == "_\r\n")
        #expect(encoded(.resp2) { $0.writeRESPNullArray(.resp2) } == "*-1\r\n")
        let map = RESPValue.map([(.bulk("a"), .integer(1))])
        #expect(encoded(.resp2) { $0.writeRESPValue(map, .resp2) } == "*2\r\n$1\r\na\r\n:1\r\n")
        #expect(encoded(.resp3) { $0.writeRESPValue(map, .resp3) } == "%1\r\n$1\r\na\r\n:1\r\n")
        #expect(encoded(.resp3) { $0.writeRESPBoolean(true, .resp3) } == "#t\r\n")
        #expect(encoded(.resp3) { $0.writeRESPVerbatim("x", .resp3) } == "=5\r\ntxt:x\r\n")
    }
}
