import CascadeTestSupport
import Foundation
import Testing

/// Issue 10's guarantees, as a user meets them: the real binary, redis-cli and kcat.
@Suite("Consistency end to end: late registrations, strong and session reads", .serialized,
       .enabled(if: findExecutable("kcat") != nil && findExecutable("redis-cli") != nil))
struct ConsistencyEndToEndTests {
    @Test("a depth-3 chain of registrations across three services, set just before the event, is dropped whole")
    func depthThreeChainOnAFreshDev() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        #expect(try await dev.cli("product-service", "SET", "a", "from x", "DEPS", "Product#x-1") == "OK")
        #expect(try await dev.cli("order-service", "SET", "b", "from a", "DEPS", "product-service/a") == "OK")
        #expect(try await dev.cli("user-service", "SET", "c", "from b", "DEPS", "order-service/b") == "OK")
        try await Task.sleep(for: .milliseconds(500))
        try await dev.publish("Product", "x-1", version: 2)
        let gone = try await eventually(timeout: .seconds(30)) {
            let a = try await dev.cli("product-service", "EXISTS", "a")
            let b = try await dev.cli("order-service", "EXISTS", "b")
            let c = try await dev.cli("user-service", "EXISTS", "c")
            return a == "0" && b == "0" && c == "0"
        }
        #expect(gone, "a, b computed from a, and c computed from b are all stale")
    }

    @Test("a key set again right after its invalidation stays reachable: its old tombstone does not erase it")
    func churnKeepsTheNewRegistration() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        for version in 2...6 {
            #expect(try await dev.cli("user-service", "SET", "mirror:p-9", "v\(version - 1)", "DEPS", "Product#p-9") == "OK")
            let published = try await dev.publishAndWait("Product#p-9", version: version)
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            #expect(try await dev.cli("user-service", "EXISTS", "mirror:p-9") == "0")
        }
        // Set once more; the tombstones of the five old values are published at the nodes'
        // next ticks, after this registration.
        #expect(try await dev.cli("user-service", "SET", "mirror:p-9", "v6", "DEPS", "Product#p-9") == "OK")
        try await Task.sleep(for: .milliseconds(500))
        let published = try await dev.publishAndWait("Product#p-9", version: 7)
        #expect(published.status == 0)
        #expect(try await dev.cli("user-service", "EXISTS", "mirror:p-9") == "0", "the event reached the value set last")
    }

    @Test("publish --wait returns once every node applied: an immediate GET never sees the old value")
    func strongReads() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        for version in 2...11 {
            #expect(try await dev.cli("product-service", "SET", "product:p-5", "v\(version - 1)", "DEPS", "Product#p-5@\(version - 1)") == "OK")
            #expect(try await dev.cli("analytics-service", "SET", "stats:product:p-5", "v\(version - 1)", "DEPS", "product-service/product:p-5") == "OK")
            let published = try await dev.publishAndWait("Product#p-5", version: version)
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            for service in ["analytics-service", "order-service", "product-service", "user-service"] {
                #expect(published.stdout.contains("applied \(service) 1 "), "\(published.stdout)")
            }
            #expect(try await dev.cli("product-service", "GET", "product:p-5") == "")
            #expect(try await dev.cli("analytics-service", "GET", "stats:product:p-5") == "")
        }
    }

    @Test("CASCADE.AFTER: at once on a node the event did not reach, after the invalidation on one it did, TIMEOUT beyond")
    func sessionReads() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        #expect(try await dev.cli("product-service", "SET", "product:p-8", "v1", "DEPS", "Product#p-8@1") == "OK")
        let published = try await runCommand(
            CascadeBinary.url.path, ["publish", "Product#p-8", "--version", "2", "--format", "json", "--status-file", dev.statusPath])
        #expect(published.status == 0, "\(published.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(published.stdout.utf8)) as? [String: Any] ?? [:]
        let token = try #require(object["token"] as? String)
        #expect(object["topic"] as? String == "cascade.events" && token == "\(object["partition"] ?? ""):\(object["offset"] ?? "")")
        // Read your write: once AFTER answers, the value computed from version 1 is gone.
        #expect(try await dev.cli("product-service", "CASCADE.AFTER", token, "10000") == "OK")
        #expect(try await dev.cli("product-service", "GET", "product:p-8") == "")
        // user-service caches nothing on products: it answers as soon as the watermark passes.
        let started = ContinuousClock.now
        #expect(try await dev.cli("user-service", "CASCADE.AFTER", token, "10000") == "OK")
        #expect(ContinuousClock.now - started < .seconds(2))
        // A position not reached yet times out, in Redis's error form.
        let partition = token.split(separator: ":")[0]
        let beyond = try await dev.cli("user-service", "CASCADE.AFTER", "\(partition):1000000", "100")
        #expect(beyond.hasPrefix("TIMEOUT"), "\(beyond)")
        #expect(try await dev.cli("user-service", "CASCADE.AFTER", "nonsense").hasPrefix("ERR invalid token"))
        // The bus lists every node as alive, with what it applied.
        let nodes = try await runCommand("curl", ["-s", "\(dev.admin)/nodes"]).stdout
        let listing = try JSONSerialization.jsonObject(with: Data(nodes.utf8)) as? [String: Any] ?? [:]
        let entries = listing["nodes"] as? [[String: Any]] ?? []
        #expect(Set(entries.compactMap { $0["service"] as? String }) == ["analytics-service", "order-service", "product-service", "user-service"])
        #expect(entries.allSatisfy { $0["alive"] as? Bool == true })
        // cascade check finds the nodes through /nodes when given only the bus.
        let check = try await runCommand(CascadeBinary.url.path, ["check", "--admin", dev.admin, "--settle-ms", "0"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }
}

/// A node with --max-staleness whose broker stops: reads miss, then hit again once it is back.
@Suite("Bounded staleness with the broker stopped", .serialized, .enabled(if: findExecutable("redis-cli") != nil))
struct BoundedStalenessTests {
    @Test func readsMissWhileTheStreamCannotBeConfirmedThenHitAgain() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", "2"])
        defer { kafka.signal(SIGCONT); kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let graph = CascadeBinary.packageRoot.appendingPathComponent("graph").path
        let bus = try ChildProcess.cascade(["bus", "--graph", graph, "--kafka", bootstrap, "--admin-port", "0", "--partitions", "2", "--log-level", "warning"])
        defer { bus.signal(SIGKILL) }
        let node = try ChildProcess.cascade([
            "node", "--service", "product-service", "--port", "0", "--kafka", bootstrap, "--max-staleness", "1s", "--log-level", "warning",
        ])
        defer { node.signal(SIGKILL) }
        let line = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        let cli = RedisCLI(port: port)
        #expect(try await cli("SET", "product:p-1", "v1", "DEPS", "Product#p-1@1") == "OK")
        // Served once the bus's watermarks confirm the stream.
        #expect(try await eventually(timeout: .seconds(60)) { try await cli("GET", "product:p-1") == "v1" })

        kafka.signal(SIGSTOP)
        #expect(try await eventually(timeout: .seconds(10)) { try await cli("GET", "product:p-1") == "" }, "misses once unconfirmed")
        #expect(try await cli("INFO", "cascade").contains("degraded:1"))
        #expect(try await cli("SET", "product:p-2", "v1", "DEPS", "Product#p-2@1") == "OK", "writes are kept")

        kafka.signal(SIGCONT)
        #expect(try await eventually(timeout: .seconds(60)) { try await cli("GET", "product:p-1") == "v1" }, "hits again once current")
        #expect(try await cli("INFO", "cascade").contains("degraded:0"))
        #expect(try await cli("GET", "product:p-2") == "v1")
    }
}
