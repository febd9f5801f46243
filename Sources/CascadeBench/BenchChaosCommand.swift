import ArgumentParser
import CascadeClient
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
            Runs `cascade kafka`, --buses `cascade bus` instances and the catalog and storefront \
            nodes as real processes of this binary, with a graph of its own. Writers change \
            products in an in-memory truth and publish their events; cache-aside readers fill \
            primary, lease, secondary and cycle keys. The broker is stopped and resumed in a \
            phase of its own (the first 10 s); then, over --seconds, bus instances are killed \
            (kill k hits bus-<k % N>) and restarted, and a node restarted. After each kill the \
            time until invalidations flow again on every partition is measured. Once everything \
            is quiet, every cached value is compared with the truth, and `cascade check` must \
            agree. Exits 0 only when every floor holds.
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

    @Option(help: "Bus instances sharing the events partitions (bus-0 ...).")
    var buses: Int = 1

    @Flag(help: "Run the buses with --partitioned-state: each holds the state of the partitions it owns only.")
    var partitionedState = false

    @Option(help: "The buses' --log-level: debug or trace for a post-mortem (trace logs every judgment and closure).")
    var busLogLevel = "info"

    @Option(help: "Times a bus instance is killed (SIGKILL) and started again, spread over the instances.")
    var busKills: Int = 3

    @Flag(help: "Leave the broker running (no phase with a 3 s SIGSTOP).")
    var noBrokerOutage = false

    @Flag(help: "Leave the storefront node running (no restart).")
    var noNodeRestart = false

    @Option(help: "Passed to both nodes as --max-staleness (e.g. 2s); then no read may return a value older than its truth by more.")
    var maxStaleness: String?

    @Option(help: "The stale-read window floor judged: p99 outside faults below this many ms (0: not judged).")
    var windowFloorMs: Double = 100

    @Option(help: "The failover floor judged with 2 or more buses: invalidations flow again on every partition within this many ms of a kill.")
    var failoverFloorMs: Double = 1000

    @Option(help: "The floor judged over the whole run, kills included (broker phase apart): at most this % of hits superseded more than 1 s before.")
    var supersededFloorPercent: Double = 0.5

    @Option(help: "Milliseconds: the bus's registration race window, waited out at quiescence.")
    var raceWindowMs: Int = 2000

    @Option(help: "Share of invalidated keys `cascade check --watch` checks beside the truth (0 to 1).")
    var watchSample: Double = 0.1

    @Flag(help: "First run one bus without faults, same load, as the baseline of the keys floor: at the end at least 90% as many keys present.")
    var keysBaseline = false

    /// What one run of the cluster left: the floors it missed, the keys present at its end.
    struct Outcome {
        var misses: [String]
        var keysPresent: Int
    }

    public func validate() throws {
        guard seconds >= 5 else { throw ValidationError("--seconds must be at least 5") }
        guard products >= 1, writesPerSecond >= 1, readers >= 1, readsPerSecond >= 1 else {
            throw ValidationError("--products, --writes-per-second, --readers and --reads-per-second must be at least 1")
        }
        guard busKills >= 0 else { throw ValidationError("--bus-kills must be 0 or more") }
        guard Logger.Level(rawValue: busLogLevel) != nil else { throw ValidationError("--bus-log-level '\(busLogLevel)' is not a log level") }
        guard (1...16).contains(buses) else { throw ValidationError("--buses must be between 1 and 16") }
        guard watchSample.isFinite, (0...1).contains(watchSample) else { throw ValidationError("--watch-sample must be between 0 and 1") }
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
        var misses: [String] = []
        var baselineKeys: Int?
        if keysBaseline {
            // Same load, one bus, no fault: how many keys a cache holds at the end anyway (a
            // registration cycle read faster than the race window stays uncached, on any bus).
            var calm = self
            (calm.buses, calm.busKills, calm.noBrokerOutage, calm.noNodeRestart, calm.keysBaseline) = (1, 0, true, true, false)
            printLine("baseline first: one bus, no faults")
            let baseline = try await calm.runCluster()
            printLine("baseline: \(baseline.keysPresent) keys present at the end"
                + (baseline.misses.isEmpty ? "" : " (its own floors, not judged here: \(baseline.misses.joined(separator: "; ")))"))
            printLine("")
            baselineKeys = baseline.keysPresent
        }
        let outcome = try await runCluster()
        misses += outcome.misses
        if let baselineKeys {
            let floor = Int((Double(baselineKeys) * 0.9).rounded(.up))
            printLine("keys present at the end: \(outcome.keysPresent), one bus without faults \(baselineKeys) (floor ≥ \(floor))")
            if outcome.keysPresent < floor { misses.append("\(outcome.keysPresent) keys present at the end (floor ≥ \(floor))") }
        }
        if misses.isEmpty {
            printLine("every floor holds")
        } else {
            printLine("missed: " + misses.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    /// Starts the processes in a directory of their own, runs the bench on them, stops them.
    private func runCluster() async throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-chaos-\(UUID().uuidString.prefix(8))")
        let graph = directory.appendingPathComponent("graph")
        try ChaosGraph.write(into: graph)
        let cluster = ChaosCluster(
            directory: directory, graphDirectory: graph.path, maxStaleness: maxStaleness, buses: buses, partitionedState: partitionedState,
            busLogLevel: busLogLevel)
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
        var outcome: Outcome
        do {
            outcome = try await bench(cluster)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
        printLine("logs in \(directory.path)")
        return outcome
    }

    /// The whole run; returns the floors it missed and the keys left.
    private func bench(_ cluster: ChaosCluster) async throws -> Outcome {
        let faultList = ChaosFault.schedule(busKills: busKills, buses: buses, nodeRestart: !noNodeRestart)
        printLine(
            "cascade bench chaos: \(seconds) s, \(products) products, \(writesPerSecond) writes/s, \(readers) readers at "
                + "\(readsPerSecond) reads/s, \(buses) bus instance\(buses == 1 ? "" : "s"), \(busKills) bus kills, "
                + "broker outage \(noBrokerOutage ? "no" : "yes, in a \(ChaosFaultInjector.brokerPhaseSeconds) s phase of its own first"), "
                + "node restart \(noNodeRestart ? "no" : "yes"); logs in \(cluster.directory.path)")
        try await start(cluster)
        let watchURL = try await cluster.startWatch(sample: watchSample, windowMillis: raceWindowMs)
        printLine("cascade check --watch \(watchURL)/metrics, \(watchSample * 100)% of invalidated keys")

        let topics = Topics()
        let undelivered = Atomic<Int>(0)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrap, properties: ["linger.ms": "1"]),
            deliveryHandler: { deliveries in
                let failed = deliveries.filter { if case .failure = $0.result { true } else { false } }.count
                if failed > 0 { undelivered.add(failed, ordering: .relaxed) }
            })
        let truth = ChaosTruth(products: products)
        let failoverProbe = try await ChaosFailoverProbe.place(producer: producer, topics: topics, partitions: ChaosCluster.partitions)
        printLine("failover sentinels: \(failoverProbe.sentinels.count) products, spread over all \(failoverProbe.partitions) partitions")
        let injector = ChaosFaultInjector(cluster: cluster, producer: producer, topics: topics, failoverProbe: failoverProbe)
        let warmUp = try await injector.probe()
        printLine("end-to-end probe before the run: \(warmUp) ms")
        injector.start()

        let readerPool = ChaosReaders(
            truth: truth, catalog: { cluster.nodeAddress("catalog") }, storefront: { cluster.nodeAddress("storefront") },
            threads: readers, readsPerSecond: readsPerSecond)
        readerPool.start()
        let writers = ChaosWriters(truth: truth, producer: producer, topics: topics, writesPerSecond: writesPerSecond)
        let (seconds, brokerOutage) = (self.seconds, !noBrokerOutage)
        let faults = Task { try await injector.run(faultList, brokerOutage: brokerOutage, seconds: seconds) }
        let writing = seconds + (brokerOutage ? ChaosFaultInjector.brokerPhaseSeconds : 0)
        await writers.run(until: ContinuousClock.now + .seconds(writing))
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
        let outcome = try await verdict(
            cluster: cluster, truth: truth, reads: readerPool.reads, injector: injector, producer: producer, watchURL: watchURL)
        await producer.shutdown()
        return outcome
    }

    /// The broker, the bus instances (sharing the partitions out) and both nodes.
    private func start(_ cluster: ChaosCluster) async throws {
        try await cluster.validateGraph()
        try await cluster.startKafka()
        for index in 0..<buses { try await cluster.startBus(index) }
        let shares = try await cluster.awaitShared()
        try await cluster.startNode("catalog")
        try await cluster.startNode("storefront")
        printLine(
            "kafka \(cluster.bootstrap), catalog \(cluster.nodeAddress("catalog")), storefront \(cluster.nodeAddress("storefront"))"
                + (cluster.stalenessInEffect.map { ", nodes with --max-staleness \($0)" } ?? ""))
        for index in 0..<buses {
            let name = ChaosCluster.busName(index)
            printLine("\(name) \(cluster.busAdmin(index)) owns partitions \((shares[name] ?? []).map { String($0) }.joined(separator: ","))")
        }
    }

    /// Quiescence, the audit, the windows, the failovers and `cascade check`; the floors missed.
    private func verdict(
        cluster: ChaosCluster, truth: ChaosTruth, reads: [ChaosRead], injector: ChaosFaultInjector, producer: KafkaProducer,
        watchURL: String
    ) async throws -> Outcome {
        var misses: [String] = []
        let verdict = ChaosVerdict(cluster: cluster, truth: truth)
        if let reason = await verdict.quiesce(injector: injector, raceWindow: .milliseconds(raceWindowMs)) {
            printLine("quiescence not reached: \(reason)")
            misses.append("quiescence")
        } else {
            printLine("\(injector.elapsed()): quiet: every bus instance lag 0, nothing in flight, node lag 0, race window passed")
        }
        let audit = try await reportAudit(verdict)
        misses += audit.misses
        misses += reportWindows(verdict, reads: reads, injector: injector)
        misses += reportFailovers(injector.failovers)
        misses += await reportWatch(verdict, watchURL: watchURL, reads: reads, injector: injector)
        misses += try await auditCheck(verdict: verdict, producer: producer, topics: Topics(), injector: injector)
        return Outcome(misses: misses, keysPresent: audit.keysPresent)
    }
}
