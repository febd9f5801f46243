import ArgumentParser
import CascadeBus
import CascadeClient
import CascadeGateway
import CascadeGraph
import CascadeKafka
import CascadeSystem
import CascadeWatch
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run everything on this machine: embedded Kafka, the bus, one cache node per service.",
        discussion: """
            Prints the endpoints and commands to try once everything is ready, and writes them \
            to --status-file as JSON (for scripts, `cascade publish` and `cascade check`). \
            Ctrl-C stops everything cleanly.
            """
    )

    @Option(help: "The graph directory.")
    var graph: String = "graph"

    @Option(help: "Write the endpoints here as JSON once everything is ready.")
    var statusFile: String?

    @Option(help: "Port of the first cache node; the others follow. 0 picks free ports.")
    var nodePort: Int = 6380

    @Option(help: "Port of the bus's admin API; 0 picks a free one.")
    var adminPort: Int = 8080

    @Option(help: "Partitions of each topic.")
    var partitions: Int = 4

    @Option(help: "Bus instances sharing the partitions (each with its own admin API on the ports after --admin-port).")
    var buses: Int = 1

    @Option(help: "Bounded staleness of every node, e.g. 2s (see cascade node --max-staleness).")
    var maxStaleness: String?

    @Option(name: .customLong("source"), help: ArgumentHelp(
        "Another topic the bus consumes, KIND:TOPIC[=Entity][,id=FIELD] (repeatable; see cascade bus --source). The topic is created.",
        valueName: "source"))
    var sources: [String] = []

    @Option(help: "Run an API gateway (cascade gateway) in front of this upstream URL too.")
    var gatewayUpstream: String?

    @Option(help: "Port of the gateway; 0 picks a free one.")
    var gatewayPort: Int = 8088

    @Option(help: "Service name of the gateway.")
    var gatewayService: String = "api-gateway"

    @Option(help: "Port of the consistency watcher's /metrics (cascade check --watch); 0 picks a free one.")
    var watchPort: Int = 9470

    @Option(help: "Share of invalidated keys the consistency watcher checks (0 to 1).")
    var watchSample: Double = 1

    @OptionGroup var tracing: TracingOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (0...65535).contains(nodePort), (0...65535).contains(adminPort) else {
            throw ValidationError("ports must be between 0 and 65535")
        }
        guard (0...65535).contains(watchPort) else { throw ValidationError("--watch-port must be between 0 and 65535") }
        guard watchSample.isFinite, (0...1).contains(watchSample) else { throw ValidationError("--watch-sample must be between 0 and 1") }
        guard (1...256).contains(partitions) else { throw ValidationError("--partitions must be between 1 and 256") }
        guard (1...16).contains(buses) else { throw ValidationError("--buses must be between 1 and 16") }
        if let maxStaleness, (TTLDuration.milliseconds(maxStaleness) ?? 0) <= 0 {
            throw ValidationError("--max-staleness '\(maxStaleness)' is not a duration such as 2s or 500ms")
        }
        _ = try SourceOptions.parse(sources)
        if let gatewayUpstream {
            let gateway = try GatewayCommand.parse(["--upstream", gatewayUpstream, "--port", String(gatewayPort), "--service", gatewayService])
            try gateway.validate()
        }
    }

    func run() async throws {
        let logger = common.bootstrapLogging(label: "cascade.dev")
        let (cacheGraph, _) = try GraphOptions.load(directory: graph)
        let topics = Topics(prefix: common.topicPrefix)
        let sourceSpecs = try SourceOptions.checked(SourceOptions.parse(sources), graph: cacheGraph)
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: partitions)
        // The embedded coordinator forgets a departed member only when its session times out;
        // it answers an empty fetch only after the whole wait, data or not. Idle, 5 ms costs
        // ~14% of a core (10 ms: ~10%, 1 ms: ~30%) and adds at most ~10 ms to a cascade.
        let kafkaConfiguration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers,
            properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "fetch.wait.max.ms": "5"])

        // Everything that speaks Kafka lives in this scope. A closed librdkafka client keeps
        // connecting until it is destroyed, which happens when the last reference goes: the
        // broker stops only after the scope has released them all (consumers first, broker
        // last), or each would warn "connection refused".
        do {
            var plan = SystemPlan(graph: cacheGraph, kafka: kafkaConfiguration, topics: topics, partitions: partitions)
            plan.nodePort = nodePort
            plan.maxStalenessMillis = maxStaleness.flatMap(TTLDuration.milliseconds)
            plan.buses = buses
            plan.adminPort = adminPort
            plan.bus = { $0.sources = sourceSpecs }
            // One tracer for the whole process: every part's spans go out as `cascade-dev`.
            let telemetry = try tracing.make(serviceName: "cascade-dev", logger: logger)
            plan.tracing = telemetry?.spans
            if let gatewayUpstream {
                var configuration = GatewayConfiguration(upstream: gatewayUpstream, port: gatewayPort)
                configuration.useRouteFamilies(of: cacheGraph, service: gatewayService)
                plan.gateway = .init(configuration: configuration, service: gatewayService)
            }
            for topic in plan.topicNames + sourceSpecs.map(\.topic) { try kafka.createTopic(topic, partitions: partitions) }
            // The consistency watcher, as `cascade check --watch` runs it; it learns the nodes'
            // addresses once they listen.
            let watchNodes = WatchNodes(fixed: [:])
            let (watchPorts, watchPortSink) = AsyncStream.makeStream(of: Int.self)
            let watch = try await ConsistencyWatch.make(
                configuration: WatchConfiguration(
                    kafka: kafkaConfiguration, topics: topics, services: cacheGraph.serviceNames, sampleRate: watchSample),
                nodes: watchNodes, metricsHost: "127.0.0.1", metricsPort: watchPort, logger: Logger(label: "cascade.watch"),
                onListening: { port in watchPortSink.yield(port) })
            // Stopped in reverse: the watcher, the admin API and the bus first, then the nodes; the broker once this scope is left.
            // The exporter starts first and stops last, to send the last spans.
            let system = try LocalSystem(
                plan, before: telemetry.map { [$0.service] } ?? [], after: watch.services, signals: [.sigterm, .sigint], logger: logger)
            let announcer = announce(
                readiness: system.readiness, watchNodes: watchNodes, watchPorts: watchPorts, kafka: kafka.bootstrapServers,
                entities: cacheGraph.entityNames, logger: logger)
            defer { announcer.cancel() }
            try await system.run()
        }
        kafka.shutdown()
        if let statusFile = self.statusFile { try? FileManager.default.removeItem(atPath: statusFile) }
    }

    /// Once everything is ready: tells the watcher where the nodes are, prints the banner and
    /// writes the status file.
    private func announce(
        readiness: StartupReadiness, watchNodes: WatchNodes, watchPorts: AsyncStream<Int>, kafka: String, entities: [String],
        logger: Logger
    ) -> Task<Void, Never> {
        let statusFile = self.statusFile
        let prefix = common.topicPrefix
        return Task {
            guard let ready = await readiness.awaitAll() else { return }
            for (service, address) in ready.nodes { watchNodes.set(service, [address]) }
            var ports = watchPorts.makeAsyncIterator()
            let watchURL = await ports.next().map { "http://127.0.0.1:\($0)" }
            let status = StatusFile(
                kafka: kafka, admin: ready.admin, nodes: ready.nodes, entities: entities, topicPrefix: prefix,
                gateway: ready.gateway, buses: ready.buses, watch: watchURL)
            printLine(status.banner)
            if let statusFile {
                do { try status.write(statusFile) } catch { logger.error("could not write \(statusFile): \(error)") }
            }
        }
    }
}
