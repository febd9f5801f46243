import Testing

/// Garbage on a raw socket: the node answers or closes, and keeps serving everyone else.
@Suite struct NodeMalformedInputTests {
    @Test func badFramesGetAnErrorOrACloseAndTheNodeCarriesOn() async throws {
        let node = try await RunningNode.start(["--max-bulk-length", "1048576"])
        let cases: [(String, String)] = [
            ("*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"),
            ("*1\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length"),
            ("*-7\r\nPING\r\n", "+PONG"),
            ("*1\r\n*1\r\n", "-ERR Protocol error: expected '$', got '*'"),
            ("*2\r\n$3\r\nGET\r\n$1\r\nab\r\n", "-ERR Protocol error: expected CRLF after bulk data"),
            ("*3000000\r\n", "-ERR Protocol error: invalid multibulk length"),
            ("\u{01}\u{02}\u{ff}\u{fe}garbage\r\n", "-ERR unknown command"),
            ("*1\r\n$4\r\nPI", ""),
        ]
        for (input, expected) in cases {
            let reply = try await node.raw(input)
            #expect(reply.hasPrefix(expected), "\(input.debugDescription) → \(reply.debugDescription)")
        }
        #expect(try await node.cli("PING") == "PONG")
        #expect(node.process.isRunning)
        try await node.stop()
    }

    @Test func pipelinedCommandsAllGetTheirReplies() async throws {
        let node = try await RunningNode.start()
        let commands = (0..<200).map { "*3\r\n$3\r\nSET\r\n$4\r\nk\(String(format: "%03d", $0))\r\n$1\r\nv\r\n" }.joined()
        let reply = try await node.raw(commands + "*1\r\n$4\r\nQUIT\r\n")
        #expect(reply == String(repeating: "+OK\r\n", count: 201))
        #expect(try await node.cli("DBSIZE") == "200")
        try await node.stop()
    }
}
