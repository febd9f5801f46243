import CascadeBus
import CascadeClient
import CascadeGraph
import CascadeKafka
import CascadeSystem
import CascadeWire
import Logging
import ServiceLifecycle

/// The embedded broker (or the one `bootstrap` names), the bus and a node per service in this
/// process (`LocalSystem`, as `cascade dev` runs them), for the benchmarks that time a whole
/// cascade (`bench e2e`, `bench reads`), with latency settings: producers send within 1 ms and
/// fetches return as soon as data is there.
final class InProcessCluster: Sendable {
    let topics: Topics
    let kafka: BenchBroker
    let configuration: KafkaConfiguration
    /// Started with the cluster, stopped last: the benchmark's own producer.
    let producer: KafkaProducer
    let ready: StartupReadiness.Ready
    /// Its nodes, gateway and bus instances, for a benchmark that drives them directly.
    let system: LocalSystem
    private let running: Task<Void, any Error>
    /// The bus's producer connections on a broker given with `--bootstrap` (docs/bus.md,
    /// "Latency under load").
    static let networkBrokerLanes = 4

    /// `beforeNodes` runs once the broker and the producer exist (to register keys that the
    /// bus should find when it rebuilds). `onApplied` hears every invalidation a node applies;
    /// `onEventSent` when the bus fetched each event and handed on what it caused. `plan`
    /// changes the system's plan last (a gateway, other bus options).
    init(
        graph: CacheGraph, services: [String], partitions: Int, bootstrap: String? = nil,
        beforeNodes: (KafkaProducer, Topics) async throws -> Void = { _, _ in },
        onApplied: @escaping @Sendable (InvalidationMessage, String) -> Void = { _, _ in },
        onEventSent: (@Sendable (String, ContinuousClock.Instant, ContinuousClock.Instant) -> Void)? = nil,
        plan change: (inout SystemPlan) -> Void = { _ in }
    ) async throws {
        kafka = try BenchBroker(bootstrap: bootstrap, partitions: partitions)
        let topics = Topics(prefix: kafka.prefix + "cascade.")
        self.topics = topics
        configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers,
            properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "linger.ms": "1", "fetch.wait.max.ms": "1"])
        var plan = SystemPlan(graph: graph, kafka: configuration, topics: topics, partitions: partitions)
        plan.services = services
        plan.onApplied = onApplied
        plan.bus = { bus in
            bus.onEventSent = onEventSent
            // A network broker serves connections in parallel; the embedded one, on one thread.
            if bootstrap != nil { bus.producerLanes = Self.networkBrokerLanes }
        }
        change(&plan)
        try await kafka.createTopics(plan.topicNames, partitions: partitions)
        producer = try KafkaProducer(configuration: configuration)
        try await beforeNodes(producer, topics)
        let system = try LocalSystem(plan, before: [producer], logger: Logger(label: "bench"))
        self.system = system
        running = Task { try await system.run() }
        guard let ready = await system.readiness.awaitAll() else { throw OperatorError("the nodes or the bus did not start") }
        self.ready = ready
    }

    func stop() async {
        await system.stop()
        _ = try? await running.value
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
