import CascadeBus
import CascadeClient
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeNode
import CascadeWire
import Logging
import NIOPosix
import ServiceLifecycle

/// The embedded broker (or the one `bootstrap` names), the bus and a node per service in this
/// process, for the benchmarks that time a whole cascade (`bench e2e`, `bench reads`), with
/// latency settings: producers send within 1 ms and fetches return as soon as data is there.
final class InProcessCluster: Sendable {
    let topics: Topics
    let kafka: BenchBroker
    let configuration: KafkaConfiguration
    /// Started with the cluster, stopped last: the benchmark's own producer.
    let producer: KafkaProducer
    let ready: StartupReadiness.Ready
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let eventLoops: MultiThreadedEventLoopGroup

    /// `beforeNodes` runs once the broker and the producer exist (to register keys that the
    /// bus should find when it rebuilds). `onApplied` hears every invalidation a node applies;
    /// `onEventSent` when the bus fetched each event and handed on what it caused.
    init(
        graph: CacheGraph, services: [String], partitions: Int, bootstrap: String? = nil,
        beforeNodes: (KafkaProducer, Topics) async throws -> Void = { _, _ in },
        onApplied: @escaping @Sendable (InvalidationMessage, String) -> Void = { _, _ in },
        onEventSent: (@Sendable (String, ContinuousClock.Instant, ContinuousClock.Instant) -> Void)? = nil
    ) async throws {
        kafka = try BenchBroker(bootstrap: bootstrap, partitions: partitions)
        let topics = Topics(prefix: kafka.prefix + "cascade.")
        self.topics = topics
        try await kafka.createTopics(topics.all(services: graph.serviceNames), partitions: partitions)
        configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers,
            properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "linger.ms": "1", "fetch.wait.max.ms": "1"])
        producer = try KafkaProducer(configuration: configuration)
        try await beforeNodes(producer, topics)
        let readiness = StartupReadiness(services: services)
        eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var all: [any ServiceLifecycle.Service] = [producer]
        for service in services {
            let runtime = try NodeRuntime(
                configuration: NodeConfiguration(service: service, port: 0), kafka: configuration, topics: topics, group: eventLoops,
                logger: Logger(label: "bench.node"),
                onListening: { readiness.nodeListening(service, address: "127.0.0.1:\($0.port ?? 0)") },
                onReady: { readiness.nodeReady(service) }, onApplied: { onApplied($0, service) })
            all += runtime.services
        }
        var busConfiguration = BusConfiguration(kafka: configuration, topics: topics, partitions: partitions)
        busConfiguration.onEventSent = onEventSent
        let bus = try BusService(
            configuration: busConfiguration, graph: graph,
            logger: Logger(label: "bench.bus"))
        all.append(bus)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: all, logger: Logger(label: "bench")).bounded())
        self.group = group
        running = Task { try await group.run() }
        Task {
            await bus.awaitReady()
            await bus.awaitConsuming()
            readiness.busReady(admin: "in-process")
        }
        guard let ready = await readiness.awaitAll() else { throw OperatorError("the nodes or the bus did not start") }
        self.ready = ready
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        try? await eventLoops.shutdownGracefully()
        kafka.shutdown()
    }
}

/// Errors only on standard error: the benchmarks print their figures on standard output.
func quietLogging() {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .error
        return handler
    }
}
