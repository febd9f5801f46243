import CascadeBus
import CascadeCache
import CascadeGateway
import CascadeGraph
import CascadeKafka
import CascadeTracing
import CascadeWire

/// What a whole Cascade system in one process is made of: a cache node per service, the
/// gateway when there is one, and the bus instances, on one broker. `cascade dev`, the
/// benchmarks that time whole cascades and the in-process tests describe theirs here, and
/// `LocalSystem` builds it, so the three run the same system.
public struct SystemPlan: Sendable {
    /// The gateway in front of an upstream, as `cascade gateway` runs it.
    public struct Gateway: Sendable {
        public var configuration: GatewayConfiguration
        /// Its service name: its keys' prefix and its invalidation topic.
        public var service: String

        public init(configuration: GatewayConfiguration, service: String = "api-gateway") {
            self.configuration = configuration
            self.service = service
        }
    }

    public var graph: CacheGraph
    public var kafka: KafkaConfiguration
    public var topics: Topics
    public var partitions: Int
    /// Services that get a node: every service of the graph unless told otherwise.
    public var services: [String]
    /// Port of the first node, the others after it; 0 picks free ports.
    public var nodePort = 0
    /// Bounded staleness of every node (`cascade node --max-staleness`); nil: off.
    public var maxStalenessMillis: Int64?
    /// Bus instances sharing the partitions.
    public var buses = 1
    /// Port of the first bus instance's admin API, the others after it (0 picks free ones);
    /// nil: no admin API, and the readiness names each bus "in-process".
    public var adminPort: Int?
    public var gateway: Gateway?
    /// Sources, callbacks and the like, set on every bus instance's configuration.
    public var bus: @Sendable (inout BusConfiguration) -> Void = { _ in }
    /// Spans of the bus, the nodes and the gateway, with the process's tracer
    /// (`--otlp-endpoint`); nil: off.
    public var tracing: SpanStarter?
    /// Hears every invalidation a node or the gateway applies, with its service.
    public var onApplied: (@Sendable (InvalidationMessage, String) -> Void)?

    public init(graph: CacheGraph, kafka: KafkaConfiguration, topics: Topics, partitions: Int) {
        self.graph = graph
        self.kafka = kafka
        self.topics = topics
        self.partitions = partitions
        services = graph.serviceNames
    }

    /// Every topic the system reads or writes, to create on the broker before it starts
    /// (the bus's sources are its own: add `sources.map(\.topic)`).
    public var topicNames: [String] {
        topics.all(services: graph.serviceNames) + (gateway.map { [topics.invalidations(service: $0.service)] } ?? [])
    }
}
