import CascadeClient
import CascadeKafka
import CascadeProcess
import CascadeWire
import Foundation

/// After the run: waiting for quiescence, comparing every cached value with the truth, the
/// stale-read windows, and `cascade check` before and after a planted stale value.
struct ChaosVerdict {
    let cluster: ChaosCluster
    let truth: ChaosTruth

    // MARK: Quiescence

    /// Waits until every bus instance is ready, consumed every event and has every message acknowledged,
    /// both nodes have no lag, and the registration race window has passed for the last
    /// registrations. Nil once quiet; else why not, after `timeout`.
    func quiesce(injector: ChaosFaultInjector, raceWindow: Duration, timeout: Duration = .seconds(120)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        do {
            // An event that reaches both nodes: the bus has partitions assigned and works.
            _ = try await injector.probe(timeout: timeout)
        } catch {
            return "the end-to-end probe failed: \(error)"
        }
        // Two quiet observations, the race window apart: registrations the readers made last
        // have been checked by then.
        for round in 0..<2 {
            if round == 1 { try? await Task.sleep(for: raceWindow + .milliseconds(500)) }
            var last = ""
            while true {
                let state = await quietState()
                if state.quiet { break }
                last = state.description
                guard ContinuousClock.now < deadline else { return "not quiet within \(timeout): \(last)" }
                // The bus and nodes publish lag as numbers only, so read them 10 times a second.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return nil
    }

    /// Quiet: every bus instance runs and is ready, with no lag and nothing in flight on the
    /// partitions it owns, and neither node lags.
    private func quietState() async -> (quiet: Bool, description: String) {
        var quiet = true
        var parts: [String] = []
        let admins = cluster.liveBusAdmins
        if admins.count < cluster.buses {
            quiet = false
            parts.append("\(admins.count) of \(cluster.buses) bus instances running")
        }
        for (index, admin) in admins {
            let ready = await chaosHTTPGet(admin + "/readyz")
            let metrics = await chaosHTTPGet(admin + "/metrics")
            func gauge(_ name: String) -> Double? {
                metrics.body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let lag = gauge("cascade_bus_consumer_lag")
            let inFlight = gauge("cascade_bus_events_in_flight")
            if ready.status != 200 || lag != 0 || inFlight != 0 { quiet = false }
            parts.append(
                "\(ChaosCluster.busName(index)) /readyz \(ready.status), lag \(lag.map { "\(Int($0))" } ?? "?"), "
                    + "in flight \(inFlight.map { "\(Int($0))" } ?? "?")")
        }
        // A partition nobody owns shows no lag anywhere.
        let unowned = await BusShards.fetch(admin: cluster.admin)?.unowned
        if unowned != [] {
            quiet = false
            parts.append("unowned partitions \(unowned.map { $0.joined(separator: ",") } ?? "?")")
        }
        for service in ["catalog", "storefront"] {
            let lag = await nodeLag(service)
            if lag != 0 { quiet = false }
            parts.append("\(service) lag \(lag)")
        }
        return (quiet, parts.joined(separator: ", "))
    }

    /// `lag` of `INFO cascade`, -1 when the node does not answer.
    private func nodeLag(_ service: String) async -> Int64 {
        guard let client = try? await NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil),
              let info = try? await client.command(encodeRESPCommand("INFO", "cascade")).text
        else { return -1 }
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("lag:") }
        return line.flatMap { Int64($0.dropFirst(4)) } ?? -1
    }

    // MARK: Cached values against the truth

    struct KindAudit {
        var kind: ChaosKind
        var keys = 0
        var stale = 0
        var examples: [String] = []
        /// The keys of `examples`, as `service/key`, for `cascade why`.
        var exampleKeys: [String] = []
    }

    /// Where each kind's keys live.
    static let families: [(ChaosKind, String, String)] = [
        (.primary, "catalog", "product"), (.lease, "catalog", "price"), (.secondary, "storefront", "page"),
        (.cycle, "catalog", "a"), (.cycle, "storefront", "b"),
    ]

    /// GETs every key of the known key space on both nodes and compares it with the truth.
    func audit() async throws -> [KindAudit] {
        var audits = ChaosKind.allCases.map { KindAudit(kind: $0) }
        for (kind, service, prefix) in Self.families {
            let client = try await NodeClient(address: cluster.nodeAddress(service), timeout: 10, password: nil)
            for start in stride(from: 0, to: truth.products, by: 100) {
                let products = Array(start..<min(start + 100, truth.products))
                let replies = try await client.pipeline(products.map { encodeRESPCommand("GET", "\(prefix):\(ChaosTruth.id($0))") })
                for (product, reply) in zip(products, replies) {
                    guard let text = reply.text else { continue }
                    audits[kind.rawValue].keys += 1
                    let current = truth.version(product)
                    if let version = UInt64(text), version >= current { continue }
                    audits[kind.rawValue].stale += 1
                    if audits[kind.rawValue].examples.count < 3 {
                        audits[kind.rawValue].examples.append("\(service) \(prefix):\(ChaosTruth.id(product)) = \(text), truth \(current)")
                        audits[kind.rawValue].exampleKeys.append("\(service)/\(prefix):\(ChaosTruth.id(product))")
                    }
                }
            }
        }
        return audits
    }

    // MARK: Stale-read windows

    struct Windows {
        /// Cache hits (only a hit is recorded as a read).
        var reads = 0
        /// Milliseconds from the version's supersession to the read, for each stale read.
        var stale: [Double] = []

        func percentile(_ fraction: Double) -> Double {
            guard !stale.isEmpty else { return 0 }
            let sorted = stale.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
        }

        /// Hits whose value had been superseded more than a second before.
        var beyondSecond: Int { stale.filter { $0 > 1000 }.count }
        /// `beyondSecond` as a percentage of the hits.
        var beyondSecondShare: Double { reads == 0 ? 0 : 100 * Double(beyondSecond) / Double(reads) }

        var row: String {
            String(
                format: "%8d %8d %9.1f %9.1f %9.1f %7d %6.2f%%", reads, stale.count, percentile(0.5), percentile(0.99), stale.max() ?? 0,
                beyondSecond, beyondSecondShare)
        }
    }

    /// The same reads, four ways: outside every fault period; the whole run, faults included,
    /// but for the broker outage's phase of its own; that phase alone; everything.
    struct WindowSet {
        var outside = Windows()
        var whole = Windows()
        var brokerPhase = Windows()
        var everything = Windows()
    }

    /// Each read that returned a version already superseded when it was sent is a stale read;
    /// its window runs from the supersession to the read. `kind` nil takes every kind.
    /// `brokerPhase` covers the outage's fault period too.
    func windows(_ reads: [ChaosRead], faults: [ChaosFaultPeriod], brokerPhase: ClosedRange<UInt64>?, kind: ChaosKind? = nil) -> WindowSet {
        var set = WindowSet()
        for read in reads where kind == nil || read.kind == kind {
            let inFault = faults.contains { $0.contains(read.at) }
            let inBrokerPhase = brokerPhase?.contains(read.at) == true
            var stale: Double?
            if let superseded = truth.supersededAt(Int(read.product), version: read.version), superseded < read.at {
                stale = Double(read.at - superseded) / 1e6
            }
            func add(_ windows: inout Windows) {
                windows.reads += 1
                if let stale { windows.stale.append(stale) }
            }
            add(&set.everything)
            if !inFault { add(&set.outside) }
            if inBrokerPhase { add(&set.brokerPhase) } else { add(&set.whole) }
        }
        return set
    }

    /// Hits of a value superseded more than a second before, outside the broker phase, counted
    /// by the fault period they fell in ("outside faults" for none).
    func beyondSecondByPeriod(_ reads: [ChaosRead], faults: [ChaosFaultPeriod], brokerPhase: ClosedRange<UInt64>?) -> [(String, Int)] {
        var counts: [String: Int] = [:]
        for read in reads where brokerPhase?.contains(read.at) != true {
            guard let superseded = truth.supersededAt(Int(read.product), version: read.version), superseded < read.at,
                  read.at - superseded > 1_000_000_000 else { continue }
            counts[faults.first { $0.contains(read.at) }?.name ?? "outside faults", default: 0] += 1
        }
        return counts.sorted { $0.value > $1.value }
    }

    /// The reads that returned a value superseded more than `millis` before, worst first.
    func readsBeyond(_ reads: [ChaosRead], millis: Double, started: UInt64) -> [String] {
        reads.compactMap { read -> (Double, String)? in
            guard let superseded = truth.supersededAt(Int(read.product), version: read.version), superseded < read.at else { return nil }
            let window = Double(read.at - superseded) / 1e6
            guard window > millis else { return nil }
            return (window, String(
                format: "%@ p-%d version %llu read at %.2f s, superseded at %.2f s: %.0f ms", read.kind.name as NSString, read.product,
                read.version, Double(read.at &- started) / 1e9, Double(superseded &- started) / 1e9, window))
        }
        .sorted { $0.0 > $1.0 }.map(\.1)
    }

    // MARK: cascade check

    /// Runs `cascade check` against both nodes and the bus; its status and standard output.
    func check() async throws -> (status: Int32, lines: [String]) {
        let process = try ChildProcess.start(
            name: "check", executable: cluster.executable,
            arguments: [
                "check", "--node", "catalog=\(cluster.nodeAddress("catalog"))", "--node", "storefront=\(cluster.nodeAddress("storefront"))",
                "--admin", cluster.admin,
            ],
            log: cluster.directory.appendingPathComponent("check.log"))
        guard let status = try? await process.awaitExit(timeout: .seconds(120)) else {
            process.signal(SIGKILL)
            throw OperatorError("cascade check did not finish within 120 s")
        }
        return (status, process.lines)
    }

    /// `cascade why` on a key, asking every bus instance: its answer, line by line.
    func why(_ serviceKey: String) async -> [String] {
        let service = String(serviceKey.prefix { $0 != "/" })
        let admins = (0..<cluster.buses).flatMap { ["--admin", cluster.busAdmin($0)] }
        guard let process = try? ChildProcess.start(
            name: "why", executable: cluster.executable,
            arguments: ["why", serviceKey, "--node", cluster.nodeAddress(service)] + admins,
            log: cluster.directory.appendingPathComponent("why.log"))
        else { return ["cascade why could not start"] }
        guard (try? await process.awaitExit(timeout: .seconds(30))) != nil else {
            process.signal(SIGKILL)
            return ["cascade why did not answer within 30 s"]
        }
        return process.lines
    }

    /// Plants a value the system cannot invalidate any more: a storefront key computed from a
    /// product version, whose registration is then removed behind the node's back (a tombstone
    /// on the deps topic, as an operator's mistake or a lost registration would), after which
    /// the product changes. The key is stale and only the audit can find it. Returns its name.
    func plantStale(producer: KafkaProducer, topics: Topics) async throws -> String {
        let key = "plant:p-planted"
        let client = try await NodeClient(address: cluster.nodeAddress("storefront"), timeout: 5, password: nil)
        let reply = try await client.command(encodeRESPCommand("SET", key, "1", "EX", "600", "DEPS", "Product#p-planted@1"))
        guard reply == .simple("OK") else { throw OperatorError("the storefront refused the planted value: \(reply)") }
        // Every instance: the event goes to whichever owns its partition, and one that still
        // had the registration would invalidate the key. With partitioned state, the one that
        // holds the product's partition.
        try await awaitBus("the planted registration to reach every bus instance that holds it") {
            let impacts = await impacts("p-planted")
            return cluster.partitionedState ? impacts.contains { $0.contains(key) } : impacts.allSatisfy { $0.contains(key) }
        }
        // Dated an hour back: the registration counts as long lost, its key past the grace a
        // gone key keeps its edges for (a tombstone of now would let the change below reach it).
        let hourAgo = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        try await producer.send(topic: topics.deps, key: "storefront/\(key)", value: nil, timestampMillis: hourAgo)
        try await awaitBus("every bus instance to drop the planted registration") { await !impacts("p-planted").contains { $0.contains(key) } }
        let event = DomainEvent(
            ref: EntityRef(entity: "Product", id: "p-planted"), op: .update, version: 2, origin: "bench",
            atMillis: Int64(Date().timeIntervalSince1970 * 1000), eventID: UUID().uuidString.lowercased())
        try await producer.send(topic: topics.events, key: event.kafkaKey, value: JSONEventEncoder.encode(event))
        // The instance that owns the product's partition has the ledger entry (every one, unless
        // state is partitioned).
        try await awaitBus("the ledger to reach Product#p-planted@2") {
            for (_, admin) in cluster.liveBusAdmins where await chaosHTTPGet(admin + "/ledger/Product/p-planted").body.contains("\"version\":2") {
                return true
            }
            return false
        }
        return key
    }

    /// Each running instance's `/impact` of the product.
    private func impacts(_ id: String) async -> [String] {
        await impactsByInstance(id).map(\.body)
    }

    /// Each live instance's `/impact` for product `id`; `local`: its own share's part only.
    private func impactsByInstance(_ id: String, local: Bool = false) async -> [(index: Int, body: String)] {
        var bodies: [(Int, String)] = []
        for (index, admin) in cluster.liveBusAdmins {
            bodies.append((index, await chaosHTTPGet(admin + "/impact?ref=Product%23\(id)" + (local ? "&local=1" : "")).body))
        }
        return bodies
    }

    /// The admin API offers nothing to subscribe to, so ask 20 times a second, for 30 s at most.
    private func awaitBus(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while await !condition() {
            guard ContinuousClock.now < deadline else { throw OperatorError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension ChaosVerdict {
    /// For the keys `cascade check` names stale (`stale <service> <key>: ...`): the value, when
    /// it was set, when the truth wrote that version, and for each key it was computed from,
    /// when the node last invalidated that key and by which event, all on the run's clock, so
    /// that they can be placed among the faults.
    func explain(_ checkLines: [String], started: UInt64, startedWallMillis: Int64, limit: Int = 5) async -> [String] {
        func wall(_ millis: Int64?) -> String { millis.map { String(format: "%.2f s", Double($0 - startedWallMillis) / 1000) } ?? "?" }
        var lines: [String] = []
        var explained = 0
        for line in checkLines where line.hasPrefix("stale ") {
            let words = line.split(separator: " ", maxSplits: 2)
            guard explained < limit, words.count == 3, let colon = words[2].range(of: ": ") else { continue }
            let (service, key) = (String(words[1]), String(words[2][..<colon.lowerBound]))
            guard let meta = try? await meta(service, key) else { continue }
            let value = (try? await NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
                .command(encodeRESPCommand("GET", key)).text) ?? "?"
            explained += 1
            var text = "\(service)/\(key) = \(value), set at \(wall(meta.setAtMillis))"
            var current = false
            if let dash = key.lastIndex(of: "-"), let product = Int(key[key.index(after: dash)...]), product < truth.products,
               let version = UInt64(value), version > 1 {
                let written = truth.supersededAt(product, version: version - 1)
                let superseded = truth.supersededAt(product, version: version)
                current = superseded == nil
                func run(_ time: UInt64?) -> String { time.map { String(format: "%.2f s", Double($0 &- started) / 1e9) } ?? "never" }
                text += " (the truth wrote \(version) at \(run(written)), superseded it \(run(superseded)))"
            }
            for dependency in meta.dependencies where dependency.tag.contains("/") {
                let parts = dependency.tag.split(separator: "/", maxSplits: 1).map(String.init)
                var fence: KeyMeta.KeyFence?
                if parts.count == 2 { fence = (try? await self.meta(parts[0], parts[1]))?.keyFence }
                text += "; \(dependency.tag) invalidated at \(wall(fence?.atMillis)) by \(fence?.cause ?? "?")"
                // The event of the very version the value holds: the dependency's value was
                // already that version when the event's tag dropped it on its node.
                if current, let cause = fence?.cause, cause.hasSuffix("@\(value)") { text += " " + Self.sameVersionNote }
            }
            lines.append(text)
            if cluster.partitionedState, let dash = key.lastIndex(of: "-") {
                let product = key[key.index(after: dash)...]
                lines += await sharesNaming(service, key, product: product)
                // When the buses consumed the events that dropped the catalog key, and whether any cascade named the page.
                for name in ["catalog/product:p-\(product)", "\(service)/\(key)"] {
                    lines += await why(name).prefix(6).map { "    why: " + $0 }
                }
            }
        }
        return lines
    }

    /// Partitioned state: which instances' shares reach the key from its product's change now
    /// (`/impact?…&local=1`, each instance's own part): where an edge is missing, if one is.
    private func sharesNaming(_ service: String, _ key: String, product: Substring) async -> [String] {
        var parts: [String] = []
        for (index, body) in await impactsByInstance("p-\(product)", local: true) {
            let listed = ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["keys"] as? [[String: Any]] ?? []
            let reached = Set(listed.map { "\($0["service"] as? String ?? "")/\($0["key"] as? String ?? "")" })
            let names = ["catalog/product:p-\(product)", "\(service)/\(key)"].filter(reached.contains)
            parts.append("\(ChaosCluster.busName(index)) names \(names.isEmpty ? "neither" : names.joined(separator: " and "))")
        }
        return ["  its product's change, by share: " + parts.joined(separator: "; ")]
    }

    /// Marks a dependency dropped by the event of the version the key already holds: the value
    /// is current (the truth agrees), but check's rule (a dependency invalidated after the key
    /// was set) counts it.
    static let sameVersionNote = "(the version the key holds: its value is current)"

    private func meta(_ service: String, _ key: String) async throws -> KeyMeta {
        let client = try await NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
        return try await KeyMeta(key: Array(key.utf8), reply: client.command(encodeRESPCommand("CASCADE.META", key)))
    }
}
