import CascadeKafka
import CascadeTestSupport
import Foundation
import Testing

@Suite("cascade dev end to end, with redis-cli and kcat", .serialized, .enabled(if: findExecutable("kcat") != nil && findExecutable("redis-cli") != nil))
struct DevEndToEndTests {
    @Test("an event removes exactly the dependent keys across three services and through the cycle")
    func cascadeAcrossServices() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        // The user profile shows the order count; the order summary shows the user's name.
        #expect(try await dev.cli("user-service", "SET", "user:u-1:profile", "Ann, 1 order", "DEPS", "User#u-1@1") == "OK")
        #expect(try await dev.cli("user-service", "SET", "session:u-1", "s", "DEPS", "user:u-1:profile") == "OK")
        #expect(try await dev.cli(
            "order-service", "SET", "order:o-9:summary", "for Ann", "DEPS", "Order#o-9@1", "Product#p-17@1", "user-service/user:u-1:profile") == "OK")
        #expect(try await dev.cli("order-service", "SET", "user:u-1:orders", "[o-9]", "DEPS", "order:o-9:summary") == "OK")
        #expect(try await dev.cli("product-service", "SET", "product:p-17", "shoe", "DEPS", "Product#p-17@1") == "OK")
        // Unrelated values that must stay.
        #expect(try await dev.cli("user-service", "SET", "user:u-2:profile", "Bob", "DEPS", "User#u-2@1") == "OK")
        #expect(try await dev.cli("order-service", "SET", "order:o-10:summary", "other", "DEPS", "Order#o-10@1") == "OK")
        #expect(try await dev.cli("analytics-service", "SET", "stats:product:p-17", "7 sold", "DEPS", "Product#p-17@1") == "OK")

        try await dev.publish("User", "u-1", version: 2)
        let gone = try await eventually(timeout: .seconds(30)) {
            let users = try await dev.cli("user-service", "EXISTS", "user:u-1:profile", "session:u-1")
            let orders = try await dev.cli("order-service", "EXISTS", "order:o-9:summary", "user:u-1:orders")
            return users == "0" && orders == "0"
        }
        #expect(gone, "the profile, its session, the order summary showing the name, and the order list are gone")
        #expect(try await dev.cli("user-service", "GET", "user:u-2:profile") == "Bob")
        #expect(try await dev.cli("order-service", "GET", "order:o-10:summary") == "other")
        #expect(try await dev.cli("product-service", "GET", "product:p-17") == "shoe")
        #expect(try await dev.cli("analytics-service", "GET", "stats:product:p-17") == "7 sold")

        // A value computed from the old version can no longer be stored once the event's message
        // is applied. The profile can be gone a moment earlier: the race check of the order
        // summary (stored on the profile just before the event) removes it through the cycle,
        // with no entity fence; the event's own message follows on another partition.
        var stale = ""
        #expect(try await eventually(timeout: .seconds(10)) {
            stale = try await dev.cli("user-service", "SET", "user:u-1:profile", "old", "DEPS", "User#u-1@1")
            return stale.hasPrefix("STALE")
        }, "got \(stale)")

        try await dev.publish("Product", "p-17", version: 2)
        #expect(try await eventually(timeout: .seconds(30)) {
            let products = try await dev.cli("product-service", "EXISTS", "product:p-17")
            let stats = try await dev.cli("analytics-service", "EXISTS", "stats:product:p-17")
            return products == "0" && stats == "0"
        })
        #expect(try await dev.cli("order-service", "GET", "order:o-10:summary") == "other")
        #expect(try await dev.stop() == 0, "Ctrl-C stops everything cleanly")
        #expect(!FileManager.default.fileExists(atPath: dev.statusPath))
    }

    @Test("cascade check finds a value the bus could not invalidate, --repair fixes it")
    func checkFindsAndRepairsStaleValue() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        // user-service declares nothing on Product, so only the registration could reach this key.
        #expect(try await dev.cli("user-service", "SET", "user:u-9:profile", "planted", "DEPS", "Product#p-50@1") == "OK")
        #expect(try await eventually(timeout: .seconds(30)) { try await impactNames(dev, "Product%23p-50").contains("user:u-9:profile") })
        let live = try await runCommand(CascadeBinary.url.path, ["graph", "impact", "Product#p-50", "--live", dev.admin])
        #expect(live.status == 0 && live.stdout.contains("user:u-9:profile"), "\(live.stdout)\(live.stderr)")
        // Remove the registration behind the node's back: a tombstone on cascade.deps, dated an
        // hour back (kcat cannot date one), so that it counts as long lost: a gone key's edges
        // stay for a grace after a tombstone of now, and the change would still reach it.
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: dev.kafka))
        let hourAgo = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        _ = try await producer.send(topic: "cascade.deps", key: "user-service/user:u-9:profile", value: nil, timestampMillis: hourAgo)
        await producer.shutdown(timeout: .seconds(5))
        #expect(try await eventually(timeout: .seconds(30)) { try await !impactNames(dev, "Product%23p-50").contains("user:u-9:profile") })
        let published = try await runCommand(
            CascadeBinary.url.path, ["publish", "Product#p-50", "--version", "2", "--status-file", dev.statusPath])
        #expect(published.status == 0, "\(published.stderr)")
        #expect(published.stdout.hasPrefix("published Product#p-50 to cascade.events["))
        #expect(try await eventually(timeout: .seconds(30)) { try await ledgerVersion(dev, "Product/p-50") == 2 })
        #expect(try await dev.cli("user-service", "GET", "user:u-9:profile") == "planted", "the planted value is stale now")

        let check = try await runCommand(CascadeBinary.url.path, ["check", "--status-file", dev.statusPath])
        #expect(check.status == 1, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("user:u-9:profile"))
        let repair = try await runCommand(CascadeBinary.url.path, ["check", "--status-file", dev.statusPath, "--repair"])
        #expect(repair.stdout.contains("repaired"))
        let again = try await runCommand(CascadeBinary.url.path, ["check", "--status-file", dev.statusPath, "--format", "json"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(try await dev.cli("user-service", "EXISTS", "user:u-9:profile") == "0")
    }

    @Test("cascade dev --buses 3: the instances share every partition; publish --wait works across them")
    func severalBuses() async throws {
        let dev = try await DevSession.start(["--buses", "3", "--partitions", "6"])
        defer { dev.kill() }
        let status = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dev.statusPath))) as? [String: Any] ?? [:]
        let buses = try #require(status["buses"] as? [String])
        #expect(buses.count == 3 && buses.first == dev.admin, "\(buses)")
        // Any instance answers for all of them.
        var owned: [String] = []
        #expect(try await eventually(timeout: .seconds(20)) {
            let body = try await runCommand("curl", ["-s", buses[2] + "/shards"]).stdout
            let shards = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
            let instances = shards["instances"] as? [[String: Any]] ?? []
            owned = instances.filter { $0["live"] as? Bool == true }.flatMap { $0["owned"] as? [String] ?? [] }
            // Only the instance that answers knows its index's size.
            let sized = instances.filter { ($0["index_bytes"] as? Int ?? 0) > 0 }.compactMap { $0["self"] as? Bool }
            return instances.count == 3 && owned.count == 6 && Set(owned).count == 6 && sized == [true]
        }, "three live instances own the six partitions once each, the answering one says its index size: \(owned)")
        // Events on every partition, each resolved by whichever instance owns it.
        for index in 1...12 {
            #expect(try await dev.cli("product-service", "SET", "product:p-\(index)", "v", "DEPS", "Product#p-\(index)@1") == "OK")
        }
        for index in 1...12 {
            let published = try await dev.publishAndWait("Product#p-\(index)", version: 2)
            #expect(published.status == 0, "\(published.stderr)")
        }
        let keys = (1...12).map { "product:p-\($0)" }
        let left = try await RedisCLI(port: dev.nodes["product-service"] ?? 0)(["EXISTS"] + keys)
        #expect(left == "0", "publish --wait returned before the key was gone")
        // A registration chain of depth 3 across services, whichever instance owns the root.
        #expect(try await dev.cli("product-service", "SET", "product:p-50", "v", "DEPS", "Product#p-50@1") == "OK")
        #expect(try await dev.cli("order-service", "SET", "chain:1", "v", "DEPS", "product-service/product:p-50") == "OK")
        #expect(try await dev.cli("analytics-service", "SET", "chain:2", "v", "DEPS", "order-service/chain:1") == "OK")
        #expect(try await dev.cli("user-service", "SET", "chain:3", "v", "DEPS", "analytics-service/chain:2") == "OK")
        #expect(try await dev.publishAndWait("Product#p-50", version: 2).status == 0)
        let chain = [("product-service", "product:p-50"), ("order-service", "chain:1"), ("analytics-service", "chain:2"), ("user-service", "chain:3")]
        for (service, key) in chain {
            #expect(try await eventually(timeout: .seconds(10)) { try await dev.cli(service, "EXISTS", key) == "0" }, "\(service)/\(key)")
        }
        #expect(try await dev.stop() == 0)
    }
}

/// Keys the bus's live closure names for an entity instance.
private func impactNames(_ dev: DevSession, _ ref: String) async throws -> String {
    try await httpGet("\(dev.admin)/impact?ref=\(ref)")
}

private func ledgerVersion(_ dev: DevSession, _ path: String) async throws -> Int? {
    let body = try await httpGet("\(dev.admin)/ledger/\(path)")
    let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    return object?["version"] as? Int
}

/// GET with curl, as an operator would.
private func httpGet(_ url: String) async throws -> String {
    try await runCommand("curl", ["-s", url]).stdout
}
