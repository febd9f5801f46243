import CascadeRESP
import NIOCore
import NIOTestUtils
import Testing

private func decodeAll(_ text: String) throws -> [RESPValue] {
    var decoder = RESPReplyDecoder()
    var buffer = ByteBuffer(string: text)
    var values: [RESPValue] = []
    while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
    return values
}

@Suite struct RESPReplyDecoderTests {
    @Test func verifierAcceptsRESP2AndRESP3Replies() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                ("+OK\r\n", [.simple("OK")]),
                ("-ERR no\r\n:-42\r\n", [.error("ERR no"), .integer(-42)]),
                ("$5\r\nhe\r\no\r\n$-1\r\n_\r\n", [.bulk("he\r\no"), .null, .null]),
                ("*2\r\n$1\r\na\r\n*-1\r\n", [.array([.bulk("a"), .null])]),
                ("%1\r\n+k\r\n#t\r\n~1\r\n,1.5\r\n", [.map([(.simple("k"), .boolean(true))]), .set([.double(1.5)])]),
                ("=8\r\ntxt:info\r\n!3\r\nbad\r\n", [.bulk("info"), .error("bad")]),
            ],
            decoderFactory: { RESPReplyDecoder() })
    }

    @Test func whatTheServerEncodesDecodesToTheSameValue() throws {
        let values: [RESPValue] = [
            .simple("PONG"), .error("ERR x"), .integer(7), .bulk("v"), .null,
            .array([.bulk("a"), .array([.integer(1)])]), .map([(.bulk("f"), .integer(2))]),
            .set([.bulk("s")]), .double(2.5), .boolean(false),
        ]
        for value in values {
            var buffer = ByteBuffer()
            buffer.writeRESPValue(value, .resp3)
            var decoder = RESPReplyDecoder()
            #expect(try decoder.decode(buffer: &buffer) == value)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func commandsWrittenByTheClientDecodeOnTheServer() throws {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand([Array("SET".utf8), Array("k".utf8), [13, 10, 0]])
        var decoder = RESPCommandDecoder()
        #expect(try decoder.decode(buffer: &buffer) == RESPCommand(arguments: [
            ByteBuffer(string: "SET"), ByteBuffer(string: "k"), ByteBuffer(bytes: [13, 10, 0]),
        ]))
    }

    @Test func truncatedRepliesWaitForMoreBytes() throws {
        for text in ["+", "+OK", "+OK\r", "$3\r\nab", "$3\r\nabc\r", "*2\r\n:1\r\n", "%1\r\n+k\r\n"] {
            #expect(try decodeAll(text).isEmpty, "\(text)")
        }
    }

    @Test func malformedRepliesAreTypedErrors() {
        #expect(throws: RESPReplyDecodingError.unexpectedType(UInt8(ascii: "?"))) { try decodeAll("?oops\r\n") }
        #expect(throws: RESPReplyDecodingError.badLength("-5")) { try decodeAll("$-5\r\n") }
        #expect(throws: RESPReplyDecodingError.badNumber("x")) { try decodeAll(":x\r\n") }
        #expect(throws: RESPReplyDecodingError.missingCRLF) { try decodeAll("$1\r\nab\r\n") }
        #expect(throws: RESPReplyDecodingError.nestedTooDeep(32)) { try decodeAll(String(repeating: "*1\r\n", count: 40) + ":1\r\n") }
    }
}
