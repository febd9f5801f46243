import CascadeTestSupport
import Foundation
import Testing

/// Several `cascade bus` processes on one `cascade kafka`: they share the partitions, and a
/// SIGKILL of one moves its partitions to the others within a second.
@Suite("bus instances: sharing, failover, restart", .serialized,
       .enabled(if: findExecutable("redis-cli") != nil && findExecutable("kcat") != nil && findExecutable("curl") != nil))
struct BusFailoverTests {
    /// Enough that rendezvous hashing leaves neither of two instances without a share (but
    /// for a chance of 1 in 2,048).
    static let partitions = 12

    struct Bus {
        let process: ChildProcess
        let admin: String

        static func start(_ instance: String, kafka: String, options: [String] = []) async throws -> Bus {
            let graph = CascadeBinary.packageRoot.appendingPathComponent("graph").path
            let process = try ChildProcess.cascade([
                "bus", "--graph", graph, "--kafka", kafka, "--admin-port", "0", "--partitions", String(partitions),
                "--instance", instance, "--log-level", "warning",
            ] + options)
            let line = try await process.awaitLine(timeout: .seconds(60)) { $0.hasPrefix("cascade bus ready admin=") }
            return Bus(process: process, admin: String(line.dropFirst("cascade bus ready admin=".count)).trimmingCharacters(in: .whitespaces))
        }

        /// `/shards`, parsed.
        func shards() async throws -> [String: Any] {
            let body = try await runCommand("curl", ["-s", admin + "/shards"]).stdout
            return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
        }

        /// What each live instance owns, as this one hears it.
        func owners() async throws -> [String: Set<String>] {
            let instances = try await shards()["instances"] as? [[String: Any]] ?? []
            var result: [String: Set<String>] = [:]
            for instance in instances where instance["live"] as? Bool == true {
                result[instance["instance"] as? String ?? ""] = Set(instance["owned"] as? [String] ?? [])
            }
            return result
        }
    }

    /// True once the instances named own every partition between them, each exactly once, and
    /// each owns some (one that has just become ready owns none until its first decision).
    static func shared(_ owners: [String: Set<String>], among names: Set<String>) -> Bool {
        guard Set(owners.keys) == names, owners.values.allSatisfy({ !$0.isEmpty }) else { return false }
        let all = owners.values.flatMap { $0 }
        return all.count == partitions && Set(all).count == partitions
    }

    @Test("kill the owner of partitions: their events are resolved again within a second; a restart takes its share back")
    func failoverWithinASecond() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", String(Self.partitions)])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let first = try await Bus.start("bus-a", kafka: bootstrap)
        defer { first.process.signal(SIGKILL) }
        let second = try await Bus.start("bus-b", kafka: bootstrap)
        defer { second.process.signal(SIGKILL) }
        let node = try ChildProcess.cascade(["node", "--service", "product-service", "--port", "0", "--kafka", bootstrap, "--log-level", "warning"])
        defer { node.signal(SIGKILL) }
        let line = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        let cli = RedisCLI(port: port)

        var owners: [String: Set<String>] = [:]
        #expect(try await eventually(timeout: .seconds(30)) {
            owners = try await second.owners()
            return Self.shared(owners, among: ["bus-a", "bus-b"])
        }, "both instances own a share: \(owners)")
        let victim = (owners["bus-a"]?.count ?? 0) >= (owners["bus-b"]?.count ?? 0) ? first : second
        let survivor = victim.admin == first.admin ? second : first
        let victimName = victim.admin == first.admin ? "bus-a" : "bus-b"
        let victimShare = owners[victimName] ?? []

        // Keys of 40 products, so that events land on every partition.
        let products = (1...40).map { "p-\($0)" }
        let keys = products.map { "product:\($0)" }
        for product in products {
            #expect(try await cli(["SET", "product:\(product)", "v1", "DEPS", "Product#\(product)@1"]) == "OK")
        }
        #expect(try await cli(["EXISTS"] + keys) == "40")

        // The kill, then at once an event for every product: the victim's partitions' events
        // wait for the takeover.
        victim.process.signal(SIGKILL)
        let killed = ContinuousClock.now
        try await publish(products, version: 2, kafka: bootstrap)
        #expect(try await eventually(timeout: .seconds(20)) { try await cli(["EXISTS"] + keys) == "0" })
        let failover = ContinuousClock.now - killed
        print("failover: every key gone \(failover) after the SIGKILL")
        // 500 ms to be declared gone, a beacon round, a fetch: under a second; the slack is
        // for a loaded CI machine (cascade bench chaos --buses measures it properly).
        #expect(failover < .milliseconds(1500), "the victim's partitions were resolved again within a second: \(failover)")
        #expect(try await eventually(timeout: .seconds(10)) {
            Self.shared(try await survivor.owners(), among: [victimName == "bus-a" ? "bus-b" : "bus-a"])
        })

        // Strong and session reads with the victim still down: publish --wait answers through
        // the survivor, and CASCADE.AFTER waits for what the survivor resolves.
        #expect(try await cli(["SET", "product:p-7", "v2", "DEPS", "Product#p-7@2"]) == "OK")
        let published = try await runCommand(CascadeBinary.url.path, [
            "publish", "Product#p-7", "--version", "3", "--kafka", bootstrap, "--admin", survivor.admin, "--wait", "--wait-timeout", "20s",
            "--format", "json",
        ])
        #expect(published.status == 0, "publish --wait: \(published.stderr)")
        #expect(try await cli(["EXISTS", "product:p-7"]) == "0", "publish --wait returned before the key was gone")
        // The JSON line of the event's position; `applied <service> ...` lines follow it.
        let position = published.stdout.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? ""
        let token = try #require(
            (try? JSONSerialization.jsonObject(with: Data(position.utf8)) as? [String: Any])?["token"] as? String, "\(published.stdout)")
        #expect(try await cli(["CASCADE.AFTER", token, "5000"]) == "OK")

        // Restarted under its name, it is ready and takes exactly its share back.
        let restarted = try await Bus.start(victimName, kafka: bootstrap)
        defer { restarted.process.signal(SIGKILL) }
        var afterRestart: [String: Set<String>] = [:]
        #expect(try await eventually(timeout: .seconds(30)) {
            afterRestart = try await restarted.owners()
            return Self.shared(afterRestart, among: ["bus-a", "bus-b"]) && afterRestart[victimName] == victimShare
        }, "the restarted instance \(victimName) owns its old share \(victimShare): \(afterRestart)")
        // And cascades still flow on every partition.
        for product in products {
            #expect(try await cli(["SET", "product:\(product)", "v3", "DEPS", "Product#\(product)@3"]) == "OK")
        }
        #expect(try await cli(["EXISTS"] + keys) == "40")
        try await publish(products, version: 4, kafka: bootstrap)
        #expect(try await eventually(timeout: .seconds(20)) { try await cli(["EXISTS"] + keys) == "0" })
    }

    @Test("a registration that lost its race with a cascade of an instance killed right after is still caught")
    func raceCheckAcrossATakeover() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", String(Self.partitions)])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let first = try await Bus.start("bus-a", kafka: bootstrap)
        defer { first.process.signal(SIGKILL) }
        let second = try await Bus.start("bus-b", kafka: bootstrap)
        defer { second.process.signal(SIGKILL) }
        let nodes = try await Nodes.start(["product-service", "order-service"], kafka: bootstrap)
        defer { nodes.stop() }
        let cli = nodes.cli
        #expect(try await eventually(timeout: .seconds(30)) { Self.shared(try await second.owners(), among: ["bus-a", "bus-b"]) })
        let products = (1...40).map { "p-\($0)" }
        for product in products {
            #expect(try await cli("product-service", ["SET", "product:\(product)", "v1", "DEPS", "Product#\(product)@1"]) == "OK")
        }
        try await publish(products, version: 2, kafka: bootstrap)
        #expect(try await eventually(timeout: .seconds(20)) { try await cli("product-service", ["EXISTS"] + products.map { "product:\($0)" }) == "0" })
        // bus-a ran its share of those cascades; it dies before the values computed from the
        // old products are registered (cache-aside readers that read them just before).
        // The events must not be resolved again by the taker (that would hide the gap): bus-a's
        // acknowledged offsets are committed on a 100 ms timer, which nothing outside shows;
        // wait until nothing is in flight, then three commit periods.
        #expect(try await eventually(timeout: .seconds(10)) {
            try await runCommand("curl", ["-s", first.admin + "/metrics"]).stdout.contains("cascade_bus_events_in_flight 0")
        })
        try await Task.sleep(for: .milliseconds(300))
        // All in one redis-cli, so the survivor reads them well before it takes over.
        first.process.signal(SIGKILL)
        let sets = products.map { "SET summary:\($0) old DEPS product-service/product:\($0)" }.joined(separator: "\n") + "\n"
        let stored = try await RedisCLI(port: nodes.ports["order-service"] ?? 0).run([], stdin: sets)
        #expect(stored.split(separator: "\n").filter { $0 == "OK" }.count == products.count, "\(stored)")
        let summaries = products.map { "summary:\($0)" }
        var left = ""
        #expect(try await eventually(timeout: .seconds(15)) {
            left = try await cli("order-service", ["EXISTS"] + summaries)
            return left == "0"
        }, "every value computed from a product invalidated just before is gone: \(left) left")
    }

    @Test("after a takeover the survivor knows from the invalidation topics what the dead instance invalidated")
    func memoryReadBackAfterATakeover() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", String(Self.partitions)])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        // A wide race window: the values below are stored after the takeover, seconds after
        // the cascades they lost to, on a busy machine too. Not wider than the survivor's life
        // when they are stored: before its start it remembers nothing, and would call them
        // stale whatever it read back.
        let window: Duration = .seconds(6)
        // Instances gone after 3 s without a beacon: a loaded machine must not make them take
        // each other for gone again in between (each such takeover raises the floor, which
        // would catch the values below whatever was read back).
        let options = ["--race-window-ms", "6000", "--dead-after-ms", "3000"]
        let first = try await Bus.start("bus-a", kafka: bootstrap, options: options)
        defer { first.process.signal(SIGKILL) }
        let second = try await Bus.start("bus-b", kafka: bootstrap, options: options)
        defer { second.process.signal(SIGKILL) }
        let secondStarted = ContinuousClock.now
        let nodes = try await Nodes.start(["product-service", "order-service"], kafka: bootstrap)
        defer { nodes.stop() }
        let cli = nodes.cli
        #expect(try await eventually(timeout: .seconds(30)) { Self.shared(try await second.owners(), among: ["bus-a", "bus-b"]) })
        let products = (1...40).map { "p-\($0)" }
        for product in products {
            #expect(try await cli("product-service", ["SET", "product:\(product)", "v1", "DEPS", "Product#\(product)@1"]) == "OK")
        }
        // Both instances have the products' registrations (checked fresh) before they change:
        // the race check of a registration read after the change would invalidate the product
        // itself, and remember it, on each instance.
        for bus in [first, second] {
            #expect(try await eventually(timeout: .seconds(20)) {
                try await runCommand("curl", ["-s", bus.admin + "/metrics"]).stdout.contains("cascade_bus_indexed_keys 40")
            })
        }
        try await publish(products, version: 2, kafka: bootstrap)
        #expect(try await eventually(timeout: .seconds(20)) { try await cli("product-service", ["EXISTS"] + products.map { "product:\($0)" }) == "0" })
        #expect(try await eventually(timeout: .seconds(10)) {
            try await runCommand("curl", ["-s", first.admin + "/metrics"]).stdout.contains("cascade_bus_events_in_flight 0")
        })
        try await Task.sleep(for: .milliseconds(300))
        first.process.signal(SIGKILL)
        // The survivor takes bus-a's partitions and reads back what bus-a invalidated.
        #expect(try await eventually(timeout: .seconds(20)) {
            try await runCommand("curl", ["-s", second.admin + "/metrics"]).stdout
                .contains(#"cascade_bus_takeover_memory_total{result="read"} 1"#)
        }, "\(second.process.stderr.suffix(2000))")
        // Only now are values computed from the old products stored: their registrations are
        // checked against the memory read back, not against a floor claiming nothing.
        try await Task.sleep(until: secondStarted + window + .milliseconds(500))
        let sets = products.map { "SET summary:\($0) old DEPS product-service/product:\($0)" }.joined(separator: "\n") + "\n"
        let stored = try await RedisCLI(port: nodes.ports["order-service"] ?? 0).run([], stdin: sets)
        #expect(stored.split(separator: "\n").filter { $0 == "OK" }.count == products.count, "\(stored)")
        let summaries = products.map { "summary:\($0)" }
        var left = ""
        #expect(try await eventually(timeout: .seconds(15)) {
            left = try await cli("order-service", ["EXISTS"] + summaries)
            return left == "0"
        }, "every value computed from a product invalidated before the takeover is gone, bus-a's share too: \(left) left")
    }

    @Test("a restarted instance vouches for its first race window from the invalidation topics: only values computed from keys invalidated then drop")
    func restartReadsBackTheMemory() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", String(Self.partitions)])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        // Values below are stored right after the restart, within this window of its start.
        let options = ["--race-window-ms", "8000"]
        var bus = try await Bus.start("bus-a", kafka: bootstrap, options: options)
        defer { bus.process.signal(SIGKILL) }
        let nodes = try await Nodes.start(["product-service", "order-service"], kafka: bootstrap)
        defer { nodes.stop() }
        let cli = nodes.cli
        let products = (1...20).map { "p-\($0)" }
        let changed = Array(products.prefix(10))
        for product in products {
            #expect(try await cli("product-service", ["SET", "product:\(product)", "v1", "DEPS", "Product#\(product)@1"]) == "OK")
        }
        let admin = bus.admin
        #expect(try await eventually(timeout: .seconds(20)) {
            try await runCommand("curl", ["-s", admin + "/metrics"]).stdout.contains("cascade_bus_indexed_keys 20")
        })
        try await publish(changed, version: 2, kafka: bootstrap)
        #expect(try await eventually(timeout: .seconds(20)) { try await cli("product-service", ["EXISTS"] + changed.map { "product:\($0)" }) == "0" })
        bus.process.signal(SIGKILL)
        bus = try await Bus.start("bus-a", kafka: bootstrap, options: options)
        // Computed before the restart from the products as they were: stale for the ten that
        // changed, current for the ten that did not.
        let sets = products.map { "SET summary:\($0) old DEPS product-service/product:\($0)" }.joined(separator: "\n") + "\n"
        let stored = try await RedisCLI(port: nodes.ports["order-service"] ?? 0).run([], stdin: sets)
        #expect(stored.split(separator: "\n").filter { $0 == "OK" }.count == products.count, "\(stored)")
        #expect(try await eventually(timeout: .seconds(15)) {
            try await cli("order-service", ["EXISTS"] + changed.map { "summary:\($0)" }) == "0"
        }, "values computed from products invalidated before the restart are gone")
        // The others were checked in the same batches; give any later drop a moment to show.
        try await Task.sleep(for: .seconds(1))
        let kept = try await cli("order-service", ["EXISTS"] + products.dropFirst(10).map { "summary:\($0)" })
        #expect(kept == "10", "values whose dependency did not change stay cached (the memory read back vouches for them): \(kept)")
    }

    /// One `cascade node` process per service, on ports of their own.
    struct Nodes {
        var ports: [String: Int] = [:]
        var processes: [ChildProcess] = []

        static func start(_ services: [String], kafka: String) async throws -> Nodes {
            var nodes = Nodes()
            do {
                for service in services {
                    let node = try ChildProcess.cascade(["node", "--service", service, "--port", "0", "--kafka", kafka, "--log-level", "warning"])
                    nodes.processes.append(node)
                    let line = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
                    nodes.ports[service] = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
                }
            } catch {
                nodes.stop()
                throw error
            }
            return nodes
        }

        func cli(_ service: String, _ arguments: [String]) async throws -> String {
            try await RedisCLI(port: ports[service] ?? 0)(arguments)
        }

        func stop() { for process in processes { process.signal(SIGKILL) } }
    }

    /// One update event per product, keyed `Entity#id`, in one kcat call.
    func publish(_ products: [String], version: Int, kafka: String) async throws {
        let lines = products.map { #"Product#\#($0)|{"entity":"Product","id":"\#($0)","op":"update","version":\#(version),"origin":"test"}"# }
        let result = try await runCommand("kcat", ["-b", kafka, "-P", "-t", "cascade.events", "-K", "|"], stdin: lines.joined(separator: "\n") + "\n")
        try result.requireSuccess()
    }
}
