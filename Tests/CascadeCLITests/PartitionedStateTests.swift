import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// Three `cascade bus --partitioned-state` processes on one `cascade kafka`: each holds the
/// index and ledger of the partitions it owns only, and cascades cross them as hops. Nodes of
/// three services hold the keys; redis-cli, kcat and the buses' `/metrics` are the truth.
@Suite("partitioned state: cascades across instances", .serialized,
       .enabled(if: findExecutable("redis-cli") != nil && findExecutable("kcat") != nil && findExecutable("curl") != nil))
struct PartitionedStateTests {
    static let partitions = BusFailoverTests.partitions
    static let names = ["bus-a", "bus-b", "bus-c"]

    /// A running system: the broker, three partitioned buses, a node per service.
    struct System {
        let kafka: ChildProcess
        let bootstrap: String
        let buses: [String: BusFailoverTests.Bus]
        let nodes: [String: (process: ChildProcess, cli: RedisCLI)]
        /// Who owns each partition of the events topic, as the buses agree, and who stands by
        /// for it (keeps its state warm, so its closures need no hop into it).
        let owners: [Int32: String]
        let standbys: [Int32: String]

        /// How every bus of the test runs, restarted ones included.
        static func busOptions(deadAfterMs: Int = 500, partitioned: Bool = true) -> [String] {
            (partitioned ? ["--partitioned-state"] : []) + ["--race-window-ms", "300", "--dead-after-ms", String(deadAfterMs)]
        }

        /// `partitioned: false`: the same system with every bus holding the whole state.
        static func start(deadAfterMs: Int = 500, partitioned: Bool = true) async throws -> System {
            let kafka = try ChildProcess.cascade(["kafka", "--partitions", String(partitions)])
            let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
            var buses: [String: BusFailoverTests.Bus] = [:]
            for name in names {
                // A short race window: the first registrations on a family are invalidated for
                // about that long (EdgeLandingCheck), and this test waits it out.
                buses[name] = try await BusFailoverTests.Bus.start(name, kafka: bootstrap, options: busOptions(deadAfterMs: deadAfterMs, partitioned: partitioned))
            }
            var nodes: [String: (ChildProcess, RedisCLI)] = [:]
            for service in ["product-service", "order-service", "user-service"] {
                let node = try ChildProcess.cascade(["node", "--service", service, "--port", "0", "--kafka", bootstrap, "--log-level", "warning"])
                let line = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
                let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
                nodes[service] = (node, RedisCLI(port: port))
            }
            var owned: [String: Set<String>] = [:]
            let anyBus = try #require(buses["bus-a"])
            #expect(try await eventually(timeout: .seconds(30)) {
                owned = try await anyBus.owners()
                return BusFailoverTests.shared(owned, among: Set(names))
            }, "the three buses share the partitions: \(owned)")
            var owners: [Int32: String] = [:]
            for (name, partitions) in owned {
                for partition in partitions where partition.hasPrefix("cascade.events:") {
                    owners[Int32(partition.dropFirst("cascade.events:".count)) ?? -1] = name
                }
            }
            var standbys: [Int32: String] = [:]
            for instance in try await anyBus.shards()["instances"] as? [[String: Any]] ?? [] {
                for partition in instance["standby"] as? [String] ?? [] where partition.hasPrefix("cascade.events:") {
                    standbys[Int32(partition.dropFirst("cascade.events:".count)) ?? -1] = instance["instance"] as? String
                }
            }
            return System(kafka: kafka, bootstrap: bootstrap, buses: buses, nodes: nodes, owners: owners, standbys: standbys)
        }

        func stop() {
            for bus in buses.values { bus.process.signal(SIGKILL) }
            for node in nodes.values { node.process.signal(SIGKILL) }
            kafka.signal(SIGKILL)
        }

        func cli(_ service: String, _ arguments: [String]) async throws -> String {
            try await nodes[service]!.cli(arguments)
        }

        /// The instance owning the edges whose dependency is `name`, and the one standing by.
        func holder(of name: String) -> String {
            owners[StatePartitioner(count: Int32(partitions)).partition(of: name)] ?? "?"
        }

        func standby(of name: String) -> String {
            standbys[StatePartitioner(count: Int32(partitions)).partition(of: name)] ?? "?"
        }

        /// Teaches the buses that product, order-summary and profile keys have dependents: the first
        /// registrations on a family are invalidated (their keys' earlier invalidations were not
        /// handed on), so these go, and the ones after are kept.
        func learnFamilies() async throws {
            #expect(try await cli("order-service", ["SET", "order:warm:summary", "w", "DEPS", "product-service/product:warm"]) == "OK")
            #expect(try await cli("user-service", ["SET", "user:warm:profile", "w", "DEPS", "order-service/order:warm:summary"]) == "OK")
            #expect(try await cli("order-service", ["SET", "order:warm2:summary", "w", "DEPS", "user-service/user:warm2:profile"]) == "OK")
            #expect(try await eventually(timeout: .seconds(20)) {
                let summaries = try await cli("order-service", ["EXISTS", "order:warm:summary", "order:warm2:summary"])
                let profile = try await cli("user-service", ["EXISTS", "user:warm:profile"])
                return summaries == "0" && profile == "0"
            }, "the first registrations on a family are invalidated where their edges land")
            // The race window, the nodes' apply delay and the family's settle time after the
            // families were learned: nothing to observe but time.
            try await Task.sleep(for: .seconds(2))
        }

        /// `cascade publish --wait`: returns once every node has applied what the event caused,
        /// as `admin` (bus-a's by default) tells, or fails after `timeout`.
        func publishAndWait(_ ref: String, version: Int, admin: String? = nil, timeout: String = "20s") async throws -> CommandResult {
            try await runCommand(CascadeBinary.url.path, [
                "publish", ref, "--version", String(version), "--kafka", bootstrap, "--admin", admin ?? buses["bus-a"]!.admin,
                "--wait", "--wait-timeout", timeout,
            ])
        }

        func publish(_ ref: String, version: Int) async throws {
            let result = try await runCommand(CascadeBinary.url.path, ["publish", ref, "--version", String(version), "--kafka", bootstrap])
            try result.requireSuccess()
        }

        /// Whether an edge record of `key` lands, within 10 s, on the edges partition of
        /// `dependency` (as kcat reads it).
        func edgeLanded(_ key: String, dependency: String) async throws -> Bool {
            let partition = StatePartitioner(count: Int32(partitions)).partition(of: dependency)
            return try await eventually(timeout: .seconds(10)) {
                let read = try await runCommand("kcat", [
                    "-b", bootstrap, "-C", "-t", "cascade.edges", "-p", String(partition), "-o", "beginning", "-e", "-q", "-f", "%k\n",
                ])
                return read.stdout.split(separator: "\n").contains { $0 == key }
            }
        }

        /// Hops consumed, summed over the buses still running.
        func hopsConsumed(except dead: Set<String> = []) async throws -> Int {
            try await sum("cascade_bus_hops_total", except: dead)
        }

        /// An unlabelled metric summed over the buses still running.
        func sum(_ metric: String, except dead: Set<String> = [], only: Set<String>? = nil) async throws -> Int {
            var total = 0
            for (name, bus) in buses where !dead.contains(name) && only?.contains(name) ?? true {
                let metrics = try await runCommand("curl", ["-s", bus.admin + "/metrics"]).stdout
                for line in metrics.split(separator: "\n") where line.hasPrefix(metric + " ") {
                    total += Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
                }
            }
            return total
        }
    }

    /// A product id whose chain product → order summary → user profile puts its three edges on
    /// three partitions owned by three different instances, such that each step must hop: the
    /// event's owner does not stand by for the summary's edge, nor its owner for the profile's.
    static func chainAcrossInstances(_ system: System, prefix: String) throws -> String {
        let id = (0..<10_000).lazy.map { "\(prefix)\($0)" }.first { id in
            let first = system.holder(of: "Product#\(id)")
            let middle = "product-service/product:\(id)"
            let last = "order-service/order:\(id):summary"
            return Set([first, system.holder(of: middle), system.holder(of: last)]).count == 3
                && system.standby(of: middle) != first && system.standby(of: last) != system.holder(of: middle)
        }
        return try #require(id)
    }

    static func setChain(_ system: System, _ id: String) async throws -> [(service: String, key: String)] {
        #expect(try await system.cli("product-service", ["SET", "product:\(id)", "v1", "DEPS", "Product#\(id)@1"]) == "OK")
        #expect(try await system.cli("order-service", ["SET", "order:\(id):summary", "v1", "DEPS", "product-service/product:\(id)"]) == "OK")
        #expect(try await system.cli("user-service", ["SET", "user:\(id):profile", "v1", "DEPS", "order-service/order:\(id):summary"]) == "OK")
        return [("product-service", "product:\(id)"), ("order-service", "order:\(id):summary"), ("user-service", "user:\(id):profile")]
    }

    /// Sets the chain and waits out the race window (and the landing of its edges): nothing has
    /// invalidated it then, so what removes it later is the event, not the race check.
    static func setChainKept(_ system: System, _ id: String) async throws -> [(service: String, key: String)] {
        let chain = try await setChain(system, id)
        try await Task.sleep(for: .seconds(1.5))
        for key in chain {
            #expect(try await system.cli(key.service, ["EXISTS", key.key]) == "1", "\(key) was kept before the event")
        }
        return chain
    }

    static func allGone(_ system: System, _ keys: [(service: String, key: String)]) async throws -> Bool {
        for key in keys where try await system.cli(key.service, ["EXISTS", key.key]) != "0" { return false }
        return true
    }

    @Test("a chain whose edges lie with three instances is invalidated whole; a cycle across instances ends")
    func chainAndCycleAcrossInstances() async throws {
        let system = try await System.start()
        defer { system.stop() }
        try await system.learnFamilies()

        let id = try Self.chainAcrossInstances(system, prefix: "chain-")
        // A bystander on another order: it must stay.
        #expect(try await system.cli("user-service", ["SET", "user:bystander:profile", "v1", "DEPS", "order-service/order:other:summary"]) == "OK")
        let chain = try await Self.setChainKept(system, id)
        // One system view: every instance answers /impact with the whole chain, though its
        // three edges lie with three instances.
        for (name, bus) in system.buses {
            let body = try await runCommand("curl", ["-s", bus.admin + "/impact?ref=Product%23\(id)"]).stdout
            #expect(body.contains("user:\(id):profile") && body.contains("order:\(id):summary"), "\(name) answers /impact with the chain: \(body)")
            #expect(!body.contains("bystander"), "\(name) lists no key off the chain")
        }

        let hopsBefore = try await system.hopsConsumed()
        let sentBefore = try await system.sum("cascade_bus_hops_sent_total")
        // `publish --wait` returns once every node has applied what the event caused, hops
        // included (their credit must come back before the watermark moves): at once, all gone.
        let published = try await system.publishAndWait("Product#\(id)", version: 2)
        #expect(published.status == 0, "publish --wait: \(published.stderr)")
        #expect(try await Self.allGone(system, chain), "publish --wait returned before every key of the chain was gone")
        #expect(try await system.cli("user-service", ["EXISTS", "user:bystander:profile"]) == "1", "a key off the chain stays")
        // Any instance answers for the ledger: the one holding the product's partition, or one
        // that asks it (`cascade check --admin` reads versions so).
        for (name, bus) in system.buses {
            let body = try await runCommand("curl", ["-s", bus.admin + "/ledger/Product/\(id)"]).stdout
            #expect(body.contains("\"version\":2"), "\(name) answers /ledger/Product/\(id): \(body)")
        }
        // The order summary's dependents lie with a third instance: at least one hop carried the cascade.
        let hopsConsumed = try await system.hopsConsumed() - hopsBefore
        #expect(hopsConsumed > 0)
        // Each step hops (product → summary, summary → profile), and every hop consumed was sent.
        let hopsSent = try await system.sum("cascade_bus_hops_sent_total") - sentBefore
        #expect(hopsSent >= 2 && hopsSent >= hopsConsumed, "\(hopsSent) hops sent, \(hopsConsumed) consumed")

        // A cycle: the summary depends on the product and on the profile, the profile on the
        // summary; their edges lie with different instances.
        let cycle = try #require((0..<10_000).lazy.map { "cycle-\($0)" }.first { id in
            // The event's owner holds neither the summary's dependents nor stands by for them.
            let first = system.holder(of: "Product#\(id)")
            let summary = "order-service/order:\(id):summary"
            return system.holder(of: summary) != first && system.standby(of: summary) != first
                && system.holder(of: summary) != system.holder(of: "user-service/user:\(id):profile")
        })
        #expect(try await system.cli("order-service", [
            "SET", "order:\(cycle):summary", "v1", "DEPS", "Product#\(cycle)@1", "user-service/user:\(cycle):profile",
        ]) == "OK")
        #expect(try await system.cli("user-service", ["SET", "user:\(cycle):profile", "v1", "DEPS", "order-service/order:\(cycle):summary"]) == "OK")
        // As in `setChainKept`: nothing to await but the race window, after which they must still be there.
        try await Task.sleep(for: .seconds(1.5))
        let keys = [("order-service", "order:\(cycle):summary"), ("user-service", "user:\(cycle):profile")]
        for key in keys { #expect(try await system.cli(key.0, ["EXISTS", key.1]) == "1", "\(key) was kept before the event") }
        let beforeCycle = try await system.hopsConsumed()
        try await system.publish("Product#\(cycle)", version: 2)
        #expect(try await eventually(timeout: .seconds(20)) { try await Self.allGone(system, keys) }, "both keys of the cycle are gone")
        // Each key is expanded at most once per root: two or three hops, never an endless round.
        #expect(try await eventually(timeout: .seconds(5)) {
            try await system.hopsConsumed() - beforeCycle >= 1
        })
        let hopsOfCycle = try await system.hopsConsumed() - beforeCycle
        #expect(hopsOfCycle <= 4, "the cycle took \(hopsOfCycle) hops")
    }

    @Test("a chain whose middle the event's owner stands by for is invalidated whole, and a registration racing the event is dropped where its edge lands")
    func chainThroughAStandby() async throws {
        let system = try await System.start()
        defer { system.stop() }
        try await system.learnFamilies()
        let id = try #require((0..<10_000).lazy.map { "standby-\($0)" }.first { id in
            let first = system.holder(of: "Product#\(id)")
            let middle = "product-service/product:\(id)"
            return system.holder(of: middle) != first && system.standby(of: middle) == first
        })
        let chain = try await Self.setChainKept(system, id)
        let published = try await system.publishAndWait("Product#\(id)", version: 2)
        #expect(published.status == 0, "publish --wait: \(published.stderr)")
        #expect(try await Self.allGone(system, chain), "publish --wait returned before every key of the chain was gone")

        // A summary set just after, from the product's old value: the race check where its edge
        // lands must drop it. That partition's owner judges it: it heard of the product key from
        // the event's owner as a hop, though that one keeps the partition's edges warm.
        #expect(try await system.cli("order-service", ["SET", "order:\(id):summary", "v1", "DEPS", "product-service/product:\(id)"]) == "OK")
        #expect(try await eventually(timeout: .seconds(10)) {
            try await system.cli("order-service", ["EXISTS", "order:\(id):summary"]) == "0"
        }, "a registration racing the event is invalidated where its edge lands")
    }

    /// The stale pages of partitioned chaos: a product key lost its value while nothing depended
    /// on it, a page computed from it before registered on it after, and the product's next
    /// event found the key without edges (docs/bus.md, "Records nobody judged"). Here the summary
    /// plays the product key (its edge is a registration's, through tags: no template binds it
    /// to the product) and the profile the page. The whole state (every bus holding all of it)
    /// had the same gap.
    @Test("a key whose value went while nothing depended on it still carries the next change to a value registered on it since",
          arguments: [true, false])
    func goneKeyCarriesTheNextChange(partitioned: Bool) async throws {
        let system = try await System.start(partitioned: partitioned)
        defer { system.stop() }
        // Partitioned, the first registrations on a family are dropped (`learnFamilies`).
        if partitioned { try await system.learnFamilies() }
        // The summary's router is not the event's owner: the change must hop to reach it.
        let id = try #require((0..<10_000).lazy.map { "gone-\($0)" }.first { id in
            system.holder(of: "order-service/order:\(id):summary") != system.holder(of: "Product#\(id)")
        })
        let summary = "order-service/order:\(id):summary"
        /// Whether a bus's `/impact` of the product lists `key`, within 10 s.
        func impactLists(_ key: String) async throws -> Bool {
            try await eventually(timeout: .seconds(10)) {
                try await runCommand("curl", ["-s", system.buses["bus-a"]!.admin + "/impact?ref=Product%23\(id)"]).stdout.contains(key)
            }
        }
        #expect(try await system.cli("order-service", ["SET", "order:\(id):summary", "v1", "DEPS", "Product#\(id)@1"]) == "OK")
        #expect(try await impactLists(summary))
        // Evicted, say: its tombstone, with nothing depending on it yet, read by every bus that
        // routes the summary's registrations (owner and standby; all three with the whole state)
        // before the profile registers on it.
        #expect(try await system.cli("order-service", ["DEL", "order:\(id):summary"]) == "1")
        let routers = partitioned ? [system.holder(of: summary), system.standby(of: summary)] : PartitionedStateTests.names
        #expect(try await eventually(timeout: .seconds(10)) {
            var all = true
            for bus in routers where try await system.sum("cascade_bus_graced_keys", only: [bus]) < 1 { all = false }
            return all
        }, "the summary is in its grace on \(routers)")
        #expect(try await system.cli("user-service", ["SET", "user:\(id):profile", "v1", "DEPS", summary]) == "OK")
        #expect(try await impactLists("user:\(id):profile"), "the gone summary still leads from the product to the profile")
        // As in `setChainKept`: nothing to await but the race window, after which it must still be there.
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await system.cli("user-service", ["EXISTS", "user:\(id):profile"]) == "1", "the profile was kept before the event")

        let published = try await system.publishAndWait("Product#\(id)", version: 2)
        #expect(published.status == 0, "publish --wait: \(published.stderr)")
        #expect(try await system.cli("user-service", ["EXISTS", "user:\(id):profile"]) == "0", "the change reached the profile through the gone summary")
    }

    @Test("events of one partition hopping to one other partition: their hops go as one message, and every chain goes")
    func hopsOfOneSpanGoBatched() async throws {
        let system = try await System.start()
        defer { system.stop() }
        try await system.learnFamilies()
        let partitioner = StatePartitioner(count: Int32(Self.partitions))
        // Eight products whose events share a partition and whose product keys' edges share
        // another, held by another instance that the events' owner does not stand by for.
        let first = try #require((0..<10_000).lazy.map { "batch-\($0)" }.first { id in
            let middle = "product-service/product:\(id)"
            return system.holder(of: middle) != system.holder(of: "Product#\(id)") && system.standby(of: middle) != system.holder(of: "Product#\(id)")
        })
        let events = partitioner.partition(of: "Product#\(first)")
        let middles = partitioner.partition(of: "product-service/product:\(first)")
        let ids = Array((0..<200_000).lazy.map { "batch-\($0)" }.filter { id in
            partitioner.partition(of: "Product#\(id)") == events && partitioner.partition(of: "product-service/product:\(id)") == middles
        }.prefix(8))
        #expect(ids.count == 8)
        var chains: [(service: String, key: String)] = []
        for id in ids { chains += try await Self.setChain(system, id) }
        // As in `setChainKept`: nothing to await but the race window.
        try await Task.sleep(for: .seconds(1.5))
        for key in chains { #expect(try await system.cli(key.service, ["EXISTS", key.key]) == "1", "\(key) was kept before the events") }

        // One kcat call, Kafka's partitioner, a linger: the eight events land together.
        let lines = ids.map { #"Product#\#($0)|{"entity":"Product","id":"\#($0)","op":"update","version":2,"origin":"test"}"# }
        let produced = try await runCommand(
            "kcat", ["-b", system.bootstrap, "-P", "-t", "cascade.events", "-K", "|", "-X", "partitioner=murmur2_random", "-X", "linger.ms=200"],
            stdin: lines.joined(separator: "\n") + "\n")
        try produced.requireSuccess()
        #expect(try await eventually(timeout: .seconds(20)) { try await Self.allGone(system, chains) }, "every key of the eight chains is gone")

        // On the hops topic, the product keys' partition got the hops of several events in one
        // message (a JSON array), not one message each.
        let read = try await runCommand("kcat", [
            "-b", system.bootstrap, "-C", "-t", "cascade.hops", "-p", String(middles), "-o", "beginning", "-e", "-q", "-f", "%s\n",
        ])
        try read.requireSuccess()
        let batches = read.stdout.split(separator: "\n").compactMap { line -> [StateHop]? in
            line.hasPrefix("[") ? try? StateHop.decodeAll(Array(line.utf8), partition: middles) : nil
        }
        let largest = batches.map { batch in batch.filter { hop in ids.contains { hop.name == "product-service/product:\($0)" } }.count }.max() ?? 0
        #expect(largest >= 2, "the largest batch held \(largest) of the eight hops: \(read.stdout.prefix(600))")
    }

    @Test("the instance holding the middle of a chain is killed as its event is published: nothing is lost")
    func killMidCascade() async throws {
        let system = try await System.start()
        defer { system.stop() }
        try await system.learnFamilies()

        let id = try Self.chainAcrossInstances(system, prefix: "kill-")
        let chain = try await Self.setChainKept(system, id)
        // The order summary's edge lies with this instance: the cascade must pass through it.
        let middle = system.holder(of: "product-service/product:\(id)")
        let victim = try #require(system.buses[middle])
        try await system.publish("Product#\(id)", version: 2)
        victim.process.signal(SIGKILL)
        // Its partitions move to the others, which rebuild them from the edges topic and
        // resolve again whatever it had not finished.
        #expect(try await eventually(timeout: .seconds(30)) { try await Self.allGone(system, chain) }, "every key of the chain is gone")
    }

    @Test("a registration racing an event, landing while its edge's owner is paused, is judged by the instance taking over")
    func recordLandedUnjudgedIsJudgedByTheNextOwner() async throws {
        // Long enough for the record to land before the paused owner counts as gone.
        let system = try await System.start(deadAfterMs: 3000)
        defer { system.stop() }
        try await system.learnFamilies()
        // The summary's edge lies with `owner`. Neither its standby nor the summary's router is
        // the event's owner or `owner`: only `owner` hears that the product key went.
        let id = try #require((0..<10_000).lazy.map { "judge-\($0)" }.first { id in
            let event = system.holder(of: "Product#\(id)")
            let middle = "product-service/product:\(id)"
            let owner = system.holder(of: middle)
            return Set([event, owner, system.standby(of: middle)]).count == 3
                && system.holder(of: "order-service/order:\(id):summary") != owner
        })
        let middle = "product-service/product:\(id)"
        let owner = try #require(system.buses[system.holder(of: middle)])
        #expect(try await system.cli("product-service", ["SET", "product:\(id)", "v1", "DEPS", "Product#\(id)@1"]) == "OK")
        // In the index before the event, so that the event's closure names it.
        #expect(try await system.edgeLanded(middle, dependency: "Product#\(id)"), "the product key's edge record lands")
        let published = try await system.publishAndWait("Product#\(id)", version: 2)
        #expect(published.status == 0, "publish --wait: \(published.stderr)")

        owner.process.signal(SIGSTOP)
        // Computed from the product's old value: stale the moment it is stored.
        #expect(try await system.cli("order-service", ["SET", "order:\(id):summary", "v1", "DEPS", middle]) == "OK")
        #expect(try await system.edgeLanded("order-service/order:\(id):summary", dependency: middle),
                "the summary's edge record lands while its owner is paused")
        owner.process.signal(SIGKILL)
        #expect(try await eventually(timeout: .seconds(30)) {
            try await system.cli("order-service", ["EXISTS", "order:\(id):summary"]) == "0"
        }, "the instance taking the partition over judges the record no owner judged, and drops the summary")
    }

    @Test("an instance killed and started again takes its partitions back once warm, then routes and resolves them")
    func takeBackAfterRestart() async throws {
        let system = try await System.start()
        defer { system.stop() }
        try await system.learnFamilies()
        let id = try Self.chainAcrossInstances(system, prefix: "back-")
        // It routes the product key's registrations and holds the summary's edge.
        let middleKey = "product-service/product:\(id)"
        let middle = system.holder(of: middleKey)
        let partition = "cascade.events:\(StatePartitioner(count: Int32(Self.partitions)).partition(of: middleKey))"
        let observer = try #require(system.buses.first { $0.key != middle }?.value)
        try #require(system.buses[middle]).process.signal(SIGKILL)
        #expect(try await eventually(timeout: .seconds(20)) {
            let owners = try await observer.owners()
            return owners[middle] == nil && owners.values.contains { $0.contains(partition) }
        }, "\(partition) is taken over")
        let restarted = try await BusFailoverTests.Bus.start(middle, kafka: system.bootstrap, options: System.busOptions())
        defer { restarted.process.signal(SIGKILL) }
        #expect(try await eventually(timeout: .seconds(60)) { try await observer.owners()[middle]?.contains(partition) == true },
                "\(middle) takes \(partition) back")

        let chain = try await Self.setChainKept(system, id)
        let published = try await system.publishAndWait("Product#\(id)", version: 2, admin: observer.admin)
        #expect(published.status == 0, "publish --wait: \(published.stderr)")
        #expect(try await Self.allGone(system, chain), "every key of the chain is gone once its event is applied")
    }

    @Test("publish --wait waits for the hops: with the chain's middle instance paused it does not return, and after it does")
    func waitCoversHops() async throws {
        // Paused for a few seconds, the middle instance must not count as gone.
        let system = try await System.start(deadAfterMs: 10_000)
        defer { system.stop() }
        try await system.learnFamilies()

        let id = try Self.chainAcrossInstances(system, prefix: "wait-")
        let chain = try await Self.setChainKept(system, id)
        let middle = try #require(system.buses[system.holder(of: "product-service/product:\(id)")])
        middle.process.signal(SIGSTOP)
        let paused = try await system.publishAndWait("Product#\(id)", version: 2, timeout: "2s")
        let summaryWhilePaused = try await system.cli("order-service", ["EXISTS", "order:\(id):summary"])
        middle.process.signal(SIGCONT)
        #expect(paused.status != 0, "publish --wait returned while the hop to the paused instance was not done: \(paused.stdout)")
        #expect(summaryWhilePaused == "1", "the paused instance's part of the cascade waited for it")
        #expect(try await eventually(timeout: .seconds(20)) { try await Self.allGone(system, chain) }, "every key of the chain is gone")
    }
}
