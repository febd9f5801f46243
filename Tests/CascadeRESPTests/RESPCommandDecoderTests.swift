import CascadeRESP
import NIOCore
import NIOTestUtils
import Testing

private func decodeAll(_ text: String, limits: RESPLimits = RESPLimits()) throws -> [RESPCommand] {
    var decoder = RESPCommandDecoder(limits: limits)
    var buffer = ByteBuffer(string: text)
    var commands: [RESPCommand] = []
    while let command = try decoder.decode(buffer: &buffer) { commands.append(command) }
    return commands
}

@Suite struct RESPCommandDecoderTests {
    @Test func verifierAcceptsArraysInlineAndPipelines() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                ("*1\r\n$4\r\nPING\r\n", [RESPCommand("PING")]),
                ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [RESPCommand("SET", "k", "")]),
                ("PING\r\n", [RESPCommand("PING")]),
                ("set k \"a b\"\n", [RESPCommand("set", "k", "a b")]),
                ("*0\r\n*1\r\n$4\r\nPING\r\n", [RESPCommand("PING")]),
                ("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n",
                 [RESPCommand("GET", "a"), RESPCommand("GET", "b")]),
                ("*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\0\u{1}\r\n", [RESPCommand(arguments: [
                    ByteBuffer(string: "ECHO"), ByteBuffer(bytes: [13, 10, 0, 1]),
                ])]),
            ],
            decoderFactory: { RESPCommandDecoder() })
    }

    @Test func truncatedFramesWaitForMoreBytes() throws {
        for text in ["*", "*2", "*2\r", "*2\r\n$3\r\nGET\r\n$1", "*2\r\n$3\r\nGET\r\n$1\r\na", "*2\r\n$3\r\nGET\r\n$1\r\na\r", "PIN"] {
            #expect(try decodeAll(text).isEmpty, "\(text)")
        }
    }

    @Test func negativeAndHugeLengthsAreTypedErrors() {
        #expect(throws: RESPDecodingError.invalidBulkLength) { try decodeAll("*1\r\n$-5\r\n") }
        #expect(throws: RESPDecodingError.bulkTooLarge(1 << 30)) { try decodeAll("*1\r\n$1073741824\r\n") }
        #expect(throws: RESPDecodingError.arrayTooLarge(1 << 21)) { try decodeAll("*2097152\r\n") }
        #expect(throws: RESPDecodingError.invalidArrayLength) { try decodeAll("*99999999999999999999\r\n") }
        #expect(throws: RESPDecodingError.invalidArrayLength) { try decodeAll("*x\r\n") }
        #expect(throws: RESPDecodingError.invalidBulkLength) { try decodeAll("*1\r\n$\r\n") }
    }

    @Test func nestedOrNonBulkElementsAreRefused() {
        #expect(throws: RESPDecodingError.expectedBulk(got: UInt8(ascii: "*"))) { try decodeAll("*1\r\n*1\r\n$1\r\na\r\n") }
        #expect(throws: RESPDecodingError.expectedBulk(got: UInt8(ascii: ":"))) { try decodeAll("*1\r\n:1\r\n") }
    }

    @Test func bulkWithoutItsCRLFIsRefused() {
        #expect(throws: RESPDecodingError.missingCRLF) { try decodeAll("*1\r\n$1\r\nabc\r\n") }
    }

    @Test func inlineLimitsAndQuotes() throws {
        let limits = RESPLimits(maxInlineLength: 16)
        #expect(throws: RESPDecodingError.inlineTooLong) { try decodeAll(String(repeating: "a", count: 40), limits: limits) }
        #expect(throws: RESPDecodingError.unbalancedQuotes) { try decodeAll("set \"k v\n") }
        #expect(try decodeAll("  \r\nPING\r\n") == [RESPCommand("PING")])
    }

    @Test func binaryGarbageNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 1...64, using: &generator)
            var prefix: [UInt8] = Bool.random() ? [UInt8(ascii: "*")] : []
            prefix += (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var decoder = RESPCommandDecoder(limits: RESPLimits(maxBulkLength: 1024, maxArrayLength: 16, maxInlineLength: 128))
            var buffer = ByteBuffer(bytes: prefix)
            // Either commands, a typed error, or waiting for more: nothing else.
            do { while try decoder.decode(buffer: &buffer) != nil {} } catch is RESPDecodingError {} catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}
