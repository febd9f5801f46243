import ArgumentParser
import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

public struct BenchRebuildCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Recovery time: how long a bus takes to rebuild its index from cascade.deps.",
        discussion: """
            Two parts. In process: --registrations order summaries of the example graph (each on a \
            product, its order and a user profile), encoded as nodes write them on cascade.deps, are \
            read into an instance index the way the bus reads them at start (decode, then apply in \
            batches of a consumer poll); only decoding and indexing are timed, generating and encoding \
            happen in chunks of --chunk outside the clock. Floor: 10M registrations in < 60 s. \
            Through the broker: --through-broker registrations and --ledger-records ledger records on \
            the embedded broker's topics, then a bus is started and timed until it is ready (what \
            /readyz reports). Floor: 1M registrations in < 60 s. The embedded broker keeps about 5 MB \
            per partition, hence the many partitions of the deps topic and the in-process part for 10M. \
            With --restarts K, a `cascade bus` process (--bus-binary, default this one) is then killed \
            (SIGKILL) and started again K times against that broker, each start timed until GET /readyz \
            answers 200, with --flow registrations/s arriving meanwhile. Floor: each in < 20 s with 1M. \
            --produce-rate and --produce-linger-ms fill the broker as nodes would, in the message sets \
            their producers make (the embedded broker answers a fetch with one set per partition). \
            Exit 1 when a floor is missed, 2 when an index does not hold every registration (or the bus every ledger record).
            """)

    @Option(help: "Directory of the graph's YAML files.")
    var graph: String = "graph"

    @Option(help: "Registrations of the in-process part (0 skips it).")
    var registrations: Int = 10_000_000

    @Option(help: "Registrations generated and encoded at a time, outside the clock.")
    var chunk: Int = 100_000

    @Option(help: "Registrations on the embedded broker's deps topic (0 skips that part).")
    var throughBroker: Int = 1_000_000

    @Option(help: "Ledger records on the embedded broker's ledger topic (default: a tenth of --through-broker).")
    var ledgerRecords: Int?

    @Option(help: "Partitions of the deps topic (default: enough to keep each under 3 MB).")
    var depsPartitions: Int?

    @Option(help: "Times a `cascade bus` process is then killed (SIGKILL) and started again, each timed from spawning it to GET /readyz 200 (0: only the in-process start).")
    var restarts: Int = 0

    @Option(help: "The `cascade` binary those restarts run (default: this one), to time another build against the same broker.")
    var busBinary: String?

    @Option(help: "Registrations a second written to the deps topic during the restarts, through a producer with the node's settings.")
    var flow: Int = 0

    @Option(help: "Registrations a second while the broker is filled (default: as fast as it takes them): at a node's pace, each message set holds what its producer gathered in linger.ms.")
    var produceRate: Int?

    @Option(help: "linger.ms of the producer that fills the broker and of the --flow writer (default: the node's, CacheRuntime.registrationLingerMs).")
    var produceLingerMs: Int?

    /// Floors, as rates: 10M registrations in 60 s in process, 1M through the broker.
    static let inProcessFloor = 10_000_000.0 / 60
    static let throughBrokerFloor = 1_000_000.0 / 60
    /// Most bytes put on one partition of the embedded broker, below the about 5 MB it keeps.
    static let bytesPerPartition = 3_000_000

    public func validate() throws {
        guard registrations >= 0, throughBroker >= 0, (ledgerRecords ?? 0) >= 0, chunk >= 1 else {
            throw ValidationError("--registrations, --through-broker and --ledger-records must not be negative; --chunk positive")
        }
        guard restarts >= 0, flow >= 0, (produceRate ?? 1) >= 1, (produceLingerMs ?? 0) >= 0 else {
            throw ValidationError("--restarts, --flow and --produce-linger-ms must not be negative; --produce-rate positive")
        }
        guard restarts == 0 || throughBroker > 0 else { throw ValidationError("--restarts needs --through-broker") }
    }

    public func run() async throws {
        quietLogging()
        let (cacheGraph, _) = try loadGraph(directory: graph)
        printLine("cascade bench rebuild: order summaries of the example graph (3 dependencies each), graph \(graph)")
        var met = true
        if registrations > 0 {
            met = try inProcess(graph: cacheGraph) && met
        }
        if throughBroker > 0 {
            met = try await brokered(graph: cacheGraph) && met
        }
        if !met { throw ExitCode(1) }
    }

    // MARK: In process

    struct InProcessResult {
        var registrations: Int
        var seconds: Double
        var statistics: InstanceIndex.Statistics
    }

    /// Decodes and indexes `count` registrations as the bus does, in chunks: only `DepsBatch`
    /// (decode, apply in batches) is timed.
    static func replay(graph: CacheGraph?, count: Int, chunk: Int, topic: String = Topics().deps) -> InProcessResult {
        let index = InstanceIndex(graph: graph)
        let clock = ContinuousClock()
        var timed = Duration.zero
        var read = 0
        var start = 0
        while start < count {
            let end = min(count, start + chunk)
            let messages = BenchRebuildWorkload.messages(start..<end, topic: topic)
            let began = clock.now
            read += DepsBatch.replay(messages, into: index)
            timed += clock.now - began
            start = end
        }
        return InProcessResult(registrations: read, seconds: timed.inSeconds, statistics: index.statistics)
    }

    private func inProcess(graph: CacheGraph) throws -> Bool {
        printLine("in process: \(registrations) registrations, decoded and indexed in batches of 4096 (encoded in chunks of \(chunk), untimed)")
        let result = Self.replay(graph: graph, count: registrations, chunk: chunk)
        let rate = Double(result.registrations) / max(result.seconds, 1e-9)
        let statistics = result.statistics
        let met = rate >= Self.inProcessFloor
        printLine(String(
            format: "  %d registrations   %.2f s   %.0f registrations/s   floor 10M in < 60 s (%.0f/s)   %@",
            result.registrations, result.seconds, rate, Self.inProcessFloor, met ? "ok" : "MISSED"))
        printLine(String(
            format: "  index: %d registered keys, %d names, %d edges (%d undeclared), %.1f MB, %.1f bytes/edge",
            statistics.registeredKeys, statistics.names, statistics.edges, statistics.undeclaredEdges,
            Double(statistics.approximateBytes) / 1e6, Double(statistics.approximateBytes) / Double(max(1, statistics.edges))))
        printLine("  peak RSS \(Self.peakRSS())")
        if statistics.registeredKeys != registrations || result.registrations != registrations {
            printLine("  FAILED: \(result.registrations) registrations read, \(statistics.registeredKeys) keys indexed, of \(registrations)")
            throw ExitCode(2)
        }
        return met
    }

    // MARK: Through the broker

    private func brokered(graph: CacheGraph) async throws -> Bool {
        let ledgerRecords = self.ledgerRecords ?? throughBroker / 10
        let topics = Topics(prefix: "bench-rebuild.")
        // Sized from the largest messages: the broker drops a partition's oldest bytes past ~5 MB.
        let depsBytes = Self.wireBytes(BenchRebuildWorkload.messages(throughBroker - 1..<throughBroker, topic: topics.deps)[0])
        let depsPartitions = self.depsPartitions ?? max(8, (throughBroker * (depsBytes + 64) + Self.bytesPerPartition - 1) / Self.bytesPerPartition)
        let ledgerSample = BenchRebuildWorkload.ledgerRecord(max(0, ledgerRecords - 1))
        let ledgerBytes = ledgerSample.encoded().count + "\(ledgerSample.entity)#\(ledgerSample.id)".utf8.count
        let ledgerPartitions = max(8, (ledgerRecords * (ledgerBytes + 64) + Self.bytesPerPartition - 1) / Self.bytesPerPartition)
        // The bus refuses state topics partitioned otherwise than the events: one count for all three.
        let partitions = max(depsPartitions, ledgerPartitions)
        printLine(
            "through the broker: \(throughBroker) registrations and \(ledgerRecords) ledger records, state and events topics on "
                + "\(partitions) partitions, embedded broker, then a bus started and timed until ready")

        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        for topic in [topics.deps, topics.ledger, topics.events] { try kafka.createTopic(topic, partitions: partitions) }
        for topic in topics.all(services: graph.serviceNames) where ![topics.deps, topics.ledger, topics.events].contains(topic) {
            try kafka.createTopic(topic, partitions: 4)
        }
        let configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
        var producing = configuration
        producing.properties["linger.ms"] = String(produceLingerMs ?? CacheRuntime.registrationLingerMs)
        let clock = ContinuousClock()
        let produceStart = clock.now
        try await produce(topics: topics, kafka: producing, ledgerRecords: ledgerRecords)
        printLine(String(
            format: "  produced in %.1f s (untimed; %@, producer linger.ms %@)", (clock.now - produceStart).inSeconds,
            produceRate.map { "\($0) registrations/s" } ?? "as fast as the broker takes them", producing.properties["linger.ms"] ?? "?"))

        let started = clock.now
        let bus = try BusService(
            configuration: BusConfiguration(kafka: configuration, topics: topics, groupID: "bench-rebuild", partitions: partitions),
            graph: graph, logger: Logger(label: "bench.rebuild.bus"))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [bus], logger: Logger(label: "bench.rebuild")).bounded())
        let running = Task { try await group.run() }
        await bus.awaitReady()
        let seconds = (clock.now - started).inSeconds
        guard bus.isReady else {
            // It stopped before it was ready (its log says why, e.g. a refused topic).
            do { try await running.value } catch { printLine("  FAILED: the bus stopped before it was ready: \(error)") }
            throw ExitCode(2)
        }
        let statistics = bus.processor.index.statistics
        let ledger = bus.processor.ledger.count
        await group.triggerGracefulShutdown()
        _ = try? await running.value

        let rate = Double(throughBroker) / max(seconds, 1e-9)
        let met = rate >= Self.throughBrokerFloor
        printLine(String(
            format: "  start to ready %.2f s   %.0f registrations/s   floor 1M in < 60 s (%.0f/s)   %@",
            seconds, rate, Self.throughBrokerFloor, met ? "ok" : "MISSED"))
        printLine(
            "  after ready: \(statistics.registeredKeys) registered keys (of \(throughBroker)), \(statistics.edges) edges, "
                + "\(ledger) ledger entries (of \(ledgerRecords))")
        printLine("  peak RSS of the process \(Self.peakRSS())")
        guard statistics.registeredKeys == throughBroker, ledger == ledgerRecords else {
            printLine("  FAILED: the bus said ready without every registration or ledger record in its state")
            throw ExitCode(2)
        }
        guard restarts > 0 else { return met }
        return try await timeRestarts(topics: topics, partitions: partitions, kafka: configuration, writer: producing) && met
    }

    /// Kills and restarts a bus process `--restarts` times against this broker; the floor: each
    /// ready in < 20 s.
    private func timeRestarts(topics: Topics, partitions: Int, kafka: KafkaConfiguration, writer: KafkaConfiguration) async throws -> Bool {
        printLine("restarts: a `cascade bus` process killed (SIGKILL) and started again \(restarts) times, "
            + (flow > 0 ? "\(flow) registrations/s written meanwhile" : "nothing written meanwhile"))
        let executable = busBinary.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let result = try await BenchRebuildRestarts(
            kafka: kafka, writerKafka: writer, topics: topics, partitions: partitions, graph: graph, executable: executable, restarts: restarts,
            flow: flow, firstFlowing: throughBroker
        ).run()
        let sorted = result.seconds.sorted()
        let met = (sorted.last ?? .infinity) < Self.restartFloorSeconds
        printLine(String(
            format: "  start to /readyz 200: min %.2f s   median %.2f s   max %.2f s   floor < %.0f s with 1M   %@   (%d registrations written meanwhile)",
            sorted.first ?? 0, sorted[sorted.count / 2], sorted.last ?? 0, Self.restartFloorSeconds, met ? "ok" : "MISSED", result.flowed))
        return met
    }

    /// Issue 23: a restarted instance is ready in < 20 s with 1M registrations.
    static let restartFloorSeconds = 20.0

    /// Puts the registrations and the ledger records on the broker, as nodes and a bus would
    /// have, and waits until all are acknowledged.
    private func produce(topics: Topics, kafka: KafkaConfiguration, ledgerRecords: Int) async throws {
        let producer = try KafkaProducer(configuration: kafka)
        let clock = ContinuousClock()
        let started = clock.now
        var start = 0
        while start < throughBroker {
            let end = min(throughBroker, start + chunk)
            for message in BenchRebuildWorkload.messages(start..<end, topic: topics.deps) {
                if let produceRate {
                    // At the given pace, evenly to the millisecond: bursts would make the message
                    // sets, not the producer's linger.
                    let due = started + .nanoseconds(message.offset * 1_000_000_000 / Int64(produceRate))
                    if due - clock.now >= .milliseconds(1) { try await Task.sleep(until: due) }
                }
                try await producer.produce(
                    topic: topics.deps, key: message.keyBytes, value: message.valueBytes, token: UInt64(message.offset))
            }
            start = end
        }
        for n in 0..<ledgerRecords {
            let record = BenchRebuildWorkload.ledgerRecord(n)
            try await producer.produce(
                topic: topics.ledger, key: Array("\(record.entity)#\(record.id)".utf8), value: record.encoded(), token: UInt64(n))
        }
        guard await producer.flush(timeout: .seconds(300)) else { throw ValidationError("the broker did not acknowledge every record") }
        await producer.shutdown()
    }

    private static func wireBytes(_ message: KafkaMessage) -> Int {
        (message.key?.readableBytes ?? 0) + (message.value?.readableBytes ?? 0)
    }

    /// The process's peak resident set (VmHWM), or "unknown" off Linux.
    static func peakRSS() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return "unknown" }
        return String(format: "%.1f MB", Double(kilobytes) / 1024)
    }
}
