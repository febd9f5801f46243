import CascadeTestSupport
import Foundation
import Testing

/// The real binary against a real `cascade node` and a fake bus, values written by redis-cli.
@Suite struct CheckEndToEndTests {
    struct Node {
        let process: ChildProcess
        let port: Int

        static func start() async throws -> Node {
            let process = try ChildProcess.cascade(["node", "--service", "order-service", "--port", "0", "--log-level", "warning"])
            let line = try await process.awaitLine { $0.contains("listening on") }
            let port = try #require(line.split(separator: ":").last.flatMap { Int($0) })
            return Node(process: process, port: port)
        }

        var cli: RedisCLI { RedisCLI(port: port) }
    }

    func check(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(CascadeBinary.url.path, ["check"] + arguments)
    }

    @Test func findsTheStaleKeyRepairsItAndThenPasses() async throws {
        let node = try await Node.start()
        let bus = try await BusAdminServer.start()
        defer { bus.stop() }
        #expect(try await node.cli("SET", "order:9:summary", "v", "DEPS", "X#1@1") == "OK")
        #expect(try await node.cli("SET", "order:8:summary", "v", "DEPS", "X#2@4") == "OK")
        #expect(try await node.cli("SET", "plain", "v") == "OK")
        bus.setVersion("X", "1", 2)
        bus.setVersion("X", "2", 4)
        let flags = ["--node", "order-service=127.0.0.1:\(node.port)", "--admin", bus.url, "--settle-ms", "0"]

        let first = try await check(flags)
        print(first.stdout)
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stdout.contains("stale order-service order:9:summary: X#1@1 was cached at version 1 but the ledger is at version 2"))
        #expect(!first.stdout.contains("order:8:summary:"))
        #expect(first.stdout.contains("1 of 3 keys stale"))

        let prometheus = try await check(flags + ["--format", "prometheus"])
        #expect(prometheus.status == 1)
        #expect(prometheus.stdout.contains("cascade_check_stale_keys{service=\"order-service\"} 1\n"))
        #expect(prometheus.stdout.contains("cascade_check_success 1"))

        let repair = try await check(flags + ["--repair"])
        print(repair.stdout)
        #expect(repair.status == 1)
        #expect(repair.stdout.contains("order:9:summary") && repair.stdout.contains("[repaired: deleted]"))
        #expect(try await node.cli("EXISTS", "order:9:summary") == "0")

        let after = try await check(flags)
        print(after.stdout)
        #expect(after.status == 0, "\(after.stdout) \(after.stderr)")
        #expect(after.stdout.contains("consistent: 2 keys, none stale"))

        node.process.signal(SIGTERM)
        try await node.process.awaitExit()
        let down = try await check(flags + ["--format", "prometheus"])
        #expect(down.status == 2)
        #expect(down.stderr.hasPrefix("error: cannot reach the node at 127.0.0.1:\(node.port)"))
        #expect(!down.stderr.contains("Fatal") && down.stderr.split(separator: "\n").count == 1)
        #expect(down.stdout.contains("cascade_check_success 0"))
    }

    @Test func aMissingBusOrNoTargetsIsExitTwoWithASentence() async throws {
        let node = try await Node.start()
        let noBus = try await check(["--node", "order-service=127.0.0.1:\(node.port)", "--admin", "http://127.0.0.1:1"])
        #expect(noBus.status == 2)
        #expect(noBus.stderr.hasPrefix("error: cannot reach the bus at http://127.0.0.1:1"))
        let nothing = try await check([])
        #expect(nothing.status == 2)
        #expect(nothing.stderr.contains("no nodes to check"))
        node.process.signal(SIGTERM)
        try await node.process.awaitExit()
    }

    @Test func readsTheStatusFileOfCascadeDev() async throws {
        let node = try await Node.start()
        let bus = try await BusAdminServer.start()
        defer { bus.stop() }
        let status = FileManager.default.temporaryDirectory.appendingPathComponent("check-status-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: status) }
        let json = #"{"kafka":"127.0.0.1:1","admin":"\#(bus.url)","nodes":{"order-service":"127.0.0.1:\#(node.port)"},"entities":["X"],"topic_prefix":"cascade."}"#
        try Data(json.utf8).write(to: status)
        #expect(try await node.cli("SET", "k", "v", "DEPS", "X#1") == "OK")
        // Unversioned, changed after the set, and no invalidation reached the node.
        bus.setVersion("X", "1", 3, atMillis: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        let result = try await check(["--status-file", status.path, "--format", "json", "--settle-ms", "0"])
        #expect(result.status == 1)
        #expect(result.stdout.contains(#""kind":"changed_after_set""#))
        node.process.signal(SIGTERM)
        try await node.process.awaitExit()
    }
}
