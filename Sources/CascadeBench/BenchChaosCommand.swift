import ArgumentParser
import CascadeCheck
import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import Synchronization

public struct BenchChaosCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "The consistency guarantees under faults, checked against an independent truth.",
        discussion: """
            Runs `cascade kafka`, `cascade bus` and the catalog and storefront nodes as real \
            processes of this binary, with a graph of its own. Writers change products in an \
            in-memory truth and publish their events; cache-aside readers fill primary, lease, \
            secondary and cycle keys; the bus is killed and restarted, the broker stopped and \
            resumed, a node restarted. Once everything is quiet, every cached value is compared \
            with the truth, and `cascade check` must agree. Exits 0 only when every floor holds.
            """)

    @Option(help: "Seconds of writes.")
    var seconds: Int = 60

    @Option(help: "Products in the truth (p-0 ...).")
    var products: Int = 300

    @Option(help: "Writes per second, all writers together, paced.")
    var writesPerSecond: Int = 200

    @Option(help: "Reader threads, each with its own connections.")
    var readers: Int = 4

    @Option(help: "Reads per second, all readers together.")
    var readsPerSecond: Int = 1000

    @Option(help: "Times the bus is killed (SIGKILL) and started again.")
    var busKills: Int = 3

    @Flag(help: "Leave the broker running (no SIGSTOP for 3 s).")
    var noBrokerOutage = false

    @Flag(help: "Leave the storefront node running (no restart).")
    var noNodeRestart = false

    @Option(help: "Passed to both nodes as --max-staleness (e.g. 2s); then no read may return a value older than its truth by more.")
    var maxStaleness: String?

    @Option(help: "The stale-read window floor judged: p99 outside faults below this many ms (0: not judged).")
    var windowFloorMs: Double = 100

    @Option(help: "Milliseconds: the bus's registration race window, waited out at quiescence.")
    var raceWindowMs: Int = 2000

    public func validate() throws {
        guard seconds >= 5 else { throw ValidationError("--seconds must be at least 5") }
        guard products >= 1, writesPerSecond >= 1, readers >= 1, readsPerSecond >= 1 else {
            throw ValidationError("--products, --writes-per-second, --readers and --reads-per-second must be at least 1")
        }
        guard busKills >= 0 else { throw ValidationError("--bus-kills must be 0 or more") }
        if let maxStaleness, TTLDuration.milliseconds(maxStaleness) == nil {
            throw ValidationError("--max-staleness '\(maxStaleness)' is not a duration such as 2s")
        }
    }

    public func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-chaos-\(UUID().uuidString.prefix(8))")
        let graph = directory.appendingPathComponent("graph")
        try ChaosGraph.write(into: graph)
        let cluster = ChaosCluster(directory: directory, graphDirectory: graph.path, maxStaleness: maxStaleness)
        // Ctrl-C or a SIGTERM: no child outlives the bench.
        let interrupts = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cluster.killAll()
                FileHandle.standardError.write(Data("interrupted: every child process killed\n".utf8))
                Foundation.exit(130)
            }
            source.resume()
            return source
        }
        defer { for source in interrupts { source.cancel() } }
        let misses: [String]
        do {
            misses = try await bench(cluster)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
        if misses.isEmpty {
            printLine("every floor holds; logs in \(directory.path)")
        } else {
            printLine("missed: " + misses.joined(separator: "; ") + "; logs in \(directory.path)")
            throw ExitCode(1)
        }
    }

    /// The whole run; returns the floors it missed.
    private func bench(_ cluster: ChaosCluster) async throws -> [String] {
        let faultList = ChaosFault.schedule(busKills: busKills, brokerOutage: !noBrokerOutage, nodeRestart: !noNodeRestart)
        printLine(
            "cascade bench chaos: \(seconds) s, \(products) products, \(writesPerSecond) writes/s, \(readers) readers at "
                + "\(readsPerSecond) reads/s, \(busKills) bus kills, broker outage \(noBrokerOutage ? "no" : "yes"), "
                + "node restart \(noNodeRestart ? "no" : "yes"); logs in \(cluster.directory.path)")
        try await cluster.validateGraph()
        try await cluster.startKafka()
        try await cluster.startBus()
        try await cluster.startNode("catalog")
        try await cluster.startNode("storefront")
        printLine(
            "kafka \(cluster.bootstrap), bus \(cluster.admin), catalog \(cluster.nodeAddress("catalog")), "
                + "storefront \(cluster.nodeAddress("storefront"))\(cluster.stalenessInEffect.map { ", nodes with --max-staleness \($0)" } ?? "")")

        let topics = Topics()
        let undelivered = Atomic<Int>(0)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrap, properties: ["linger.ms": "1"]),
            deliveryHandler: { deliveries in
                let failed = deliveries.filter { if case .failure = $0.result { true } else { false } }.count
                if failed > 0 { undelivered.add(failed, ordering: .relaxed) }
            })
        let truth = ChaosTruth(products: products)
        let injector = ChaosFaultInjector(cluster: cluster, producer: producer, topics: topics)
        let warmUp = try await injector.probe()
        printLine("end-to-end probe before the run: \(warmUp) ms")
        let started = chaosNow()
        injector.started = started

        let readerPool = ChaosReaders(
            truth: truth, catalog: { cluster.nodeAddress("catalog") }, storefront: { cluster.nodeAddress("storefront") },
            threads: readers, readsPerSecond: readsPerSecond)
        readerPool.start()
        let writers = ChaosWriters(truth: truth, producer: producer, topics: topics, writesPerSecond: writesPerSecond)
        let seconds = self.seconds
        let faults = Task { try await injector.run(faultList, seconds: seconds) }
        await writers.run(until: ContinuousClock.now + .seconds(seconds))
        let faultOutcome = await faults.result
        _ = await producer.flush(timeout: .seconds(30))
        printLine("\(injector.elapsed()): writers stopped after \(truth.writes) writes (\(undelivered.load(ordering: .relaxed)) undelivered)")
        // Readers go on a little after the last write, then stop.
        // Long enough for the readers to cache most keys again after the last fault, so the
        // verdict judges a full key space.
        try await Task.sleep(for: .seconds(5))
        await readerPool.stop()
        let errors = readerPool.errors
        printLine("\(injector.elapsed()): readers stopped after \(readerPool.reads.count) cached reads, \(errors.count) failed operations"
            + (errors.first.map { " (first: \($0))" } ?? ""))
        if case .failure(let error) = faultOutcome {
            await producer.shutdown()
            throw OperatorError("a fault did not recover: \(error)")
        }

        var misses: [String] = []
        let verdict = ChaosVerdict(cluster: cluster, truth: truth)
        if let reason = await verdict.quiesce(injector: injector, raceWindow: .milliseconds(raceWindowMs)) {
            printLine("quiescence not reached: \(reason)")
            misses.append("quiescence")
        } else {
            printLine("\(injector.elapsed()): quiet: bus lag 0, nothing in flight, node lag 0, race window passed")
        }
        misses += try report(verdict: verdict, reads: readerPool.reads, faults: injector.periods, started: started)
        misses += try await auditCheck(verdict: verdict, producer: producer, topics: topics)
        await producer.shutdown()
        return misses
    }

    /// Prints the stale entries by kind and the stale-read windows; returns the floors missed.
    private func report(verdict: ChaosVerdict, reads: [ChaosRead], faults: [ChaosFaultPeriod], started: UInt64) throws -> [String] {
        var misses: [String] = []
        let audits = try verdict.audit()
        printLine("")
        printLine("kind        keys checked   stale after quiescence")
        for audit in audits {
            printLine(audit.kind.name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %13d %8d", audit.keys, audit.stale))
        }
        for audit in audits where audit.stale > 0 {
            misses.append("\(audit.stale) stale \(audit.kind.name) entries")
            for example in audit.examples { printLine("  stale \(audit.kind.name): \(example)") }
        }
        printLine("")
        printLine("fault periods: " + faults.map {
            String(format: "%@ %.1f-%.1f s", $0.name as NSString, Double($0.start &- started) / 1e9, Double($0.end &- started) / 1e9)
        }.joined(separator: ", "))
        printLine("stale-read window ms        reads    stale       p50       p99       max")
        for kind in ChaosKind.allCases {
            let (outside, overall) = verdict.windows(reads, faults: faults, kind: kind)
            printLine(kind.name.padding(toLength: 10, withPad: " ", startingAt: 0) + " outside faults " + outside.row)
            printLine(kind.name.padding(toLength: 10, withPad: " ", startingAt: 0) + " overall        " + overall.row)
        }
        let (outside, overall) = verdict.windows(reads, faults: faults)
        printLine("all        outside faults " + outside.row)
        printLine("all        overall        " + overall.row)
        let p99 = outside.percentile(0.99)
        if windowFloorMs > 0, p99 >= windowFloorMs {
            misses.append(String(format: "stale-read window p99 %.1f ms outside faults (floor < %.0f ms)", p99, windowFloorMs))
        }
        if let staleness = verdict.cluster.stalenessInEffect, let bound = TTLDuration.milliseconds(staleness) {
            let beyond = overall.stale.filter { $0 > Double(bound) }.count
            printLine("reads older than their truth by more than \(staleness): \(beyond)")
            for line in verdict.readsBeyond(reads, millis: Double(bound), started: started).prefix(5) { printLine("  " + line) }
            if beyond > 0 { misses.append("\(beyond) reads beyond --max-staleness \(staleness)") }
        }
        return misses
    }

    /// `cascade check` must pass now, and fail naming the key once a stale value is planted.
    private func auditCheck(verdict: ChaosVerdict, producer: KafkaProducer, topics: Topics) async throws -> [String] {
        var misses: [String] = []
        printLine("")
        let clean = try await verdict.check()
        printLine("cascade check after quiescence: exit \(clean.status)")
        for line in clean.lines.prefix(8) { printLine("  " + line) }
        if clean.status != 0 { misses.append("cascade check exited \(clean.status) after quiescence (floor 0)") }
        let planted = try await verdict.plantStale(producer: producer, topics: topics)
        let caught = try await verdict.check()
        let naming = caught.lines.filter { $0.contains(planted) }
        printLine("cascade check with \(planted) planted: exit \(caught.status)")
        for line in naming.prefix(3) { printLine("  " + line) }
        if caught.status != 1 || naming.isEmpty { misses.append("cascade check did not catch the planted \(planted) (exit \(caught.status))") }
        return misses
    }
}
