import ArgumentParser
import CascadeBus
import CascadeClient
import CascadeGateway
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeNode
import CascadeWatch
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
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
        let gatewayTopics = gatewayUpstream == nil ? [] : [topics.invalidations(service: gatewayService)]
        for topic in topics.all(services: cacheGraph.serviceNames) + sourceSpecs.map(\.topic) + gatewayTopics {
            try kafka.createTopic(topic, partitions: partitions)
        }
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
            let readiness = StartupReadiness(services: cacheGraph.serviceNames, gateway: gatewayUpstream != nil, buses: buses)
            let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let nodeServices = try makeNodes(
                graph: cacheGraph, kafka: kafkaConfiguration, topics: topics, eventLoops: eventLoops, readiness: readiness)
            var busConfiguration = BusConfiguration(kafka: kafkaConfiguration, topics: topics, partitions: partitions)
            busConfiguration.sources = sourceSpecs
            let busServices = try makeBuses(busConfiguration, graph: cacheGraph, readiness: readiness, logger: logger)
            // The consistency watcher, as `cascade check --watch` runs it; it learns the nodes'
            // addresses once they listen.
            let watchNodes = WatchNodes(fixed: [:])
            let (watchPorts, watchPortSink) = AsyncStream.makeStream(of: Int.self)
            let watch = try await ConsistencyWatch.make(
                configuration: WatchConfiguration(
                    kafka: kafkaConfiguration, topics: topics, services: cacheGraph.serviceNames, sampleRate: watchSample),
                nodes: watchNodes, metricsHost: "127.0.0.1", metricsPort: watchPort, logger: Logger(label: "cascade.watch"),
                onListening: { port in watchPortSink.yield(port) })
            let announcer = announce(
                readiness: readiness, watchNodes: watchNodes, watchPorts: watchPorts, kafka: kafka.bootstrapServers,
                entities: cacheGraph.entityNames, logger: logger)
            defer { announcer.cancel() }
            // Stopped in reverse: the watcher, the admin API and the bus first, then the nodes; the broker once this scope is left.
            let services = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: nodeServices + busServices + watch.services, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger).bounded())
            try await services.run()
            try await eventLoops.shutdownGracefully()
        }
        kafka.shutdown()
        if let statusFile = self.statusFile { try? FileManager.default.removeItem(atPath: statusFile) }
    }

    /// A node per service of the graph, and the gateway when one is asked for.
    private func makeNodes(
        graph cacheGraph: CacheGraph, kafka: KafkaConfiguration, topics: Topics, eventLoops: MultiThreadedEventLoopGroup,
        readiness: StartupReadiness
    ) throws -> [any ServiceLifecycle.Service] {
        var services: [any ServiceLifecycle.Service] = []
        for (index, service) in cacheGraph.serviceNames.enumerated() {
            let configuration = NodeConfiguration(
                service: service, port: nodePort == 0 ? 0 : nodePort + index,
                maxStalenessMillis: maxStaleness.flatMap(TTLDuration.milliseconds),
                families: FamilyDirectory(graph: cacheGraph, service: service))
            let runtime = try NodeRuntime(
                configuration: configuration, kafka: kafka, topics: topics, group: eventLoops,
                logger: Logger(label: "cascade.node.\(service)"),
                onListening: { address in readiness.nodeListening(service, address: "127.0.0.1:\(address.port ?? 0)") },
                onReady: { readiness.nodeReady(service) })
            services += runtime.services
        }
        if let gatewayUpstream {
            var gatewayConfiguration = GatewayConfiguration(upstream: gatewayUpstream, port: gatewayPort)
            gatewayConfiguration.useRouteFamilies(of: cacheGraph, service: gatewayService)
            let gateway = try GatewayRuntime(
                configuration: gatewayConfiguration,
                node: NodeConfiguration(service: gatewayService, port: gatewayPort), kafka: kafka, topics: topics,
                logger: Logger(label: "cascade.gateway")
            ) { url in readiness.gatewayReady(url) }
            services += gateway.services
        }
        return services
    }

    /// `--buses` instances, each with its admin API on the port after the one before.
    private func makeBuses(
        _ busConfiguration: BusConfiguration, graph cacheGraph: CacheGraph, readiness: StartupReadiness, logger: Logger
    ) throws -> [any ServiceLifecycle.Service] {
        var services: [any ServiceLifecycle.Service] = []
        for index in 0..<buses {
            var configuration = busConfiguration
            configuration.instance = "bus-\(index)"
            let bus = try BusService(configuration: configuration, graph: cacheGraph, logger: Logger(label: "cascade.bus"))
            let port = adminPort == 0 ? 0 : adminPort + index
            let admin = buildApplication(AdminContextSource(bus: bus), host: "127.0.0.1", port: port, logger: logger) { host, port in
                bus.setAdminURL("http://\(host):\(port)")
                Task {
                    // Ready once events are consumed, not only once the state is rebuilt: a
                    // first event would wait for the partitions to be taken.
                    await bus.awaitReady()
                    await bus.awaitConsuming()
                    if bus.isReady { readiness.busReady(admin: "http://\(host):\(port)", instance: index) }
                }
            }
            services += [bus, admin]
        }
        return services
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
