import CascadeClient
import CascadeKafka
import Logging
import ServiceLifecycle

/// `cascade check --watch` put together: the follower of the invalidation topics, the checker
/// and the metrics endpoint, as services for one ServiceGroup (listed so that shutdown stops
/// the follower first and the endpoint last). `cascade dev` runs the same.
public struct ConsistencyWatch: Sendable {
    public let services: [any Service]
    public let metrics: WatchMetrics
    /// The services whose invalidation topics are followed.
    public let followed: [String]

    /// `onListening` gets the metrics port; `onReady` the services, once their topics are assigned.
    public static func make(
        configuration: WatchConfiguration, nodes: WatchNodes, metricsHost: String = "0.0.0.0", metricsPort: Int, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }, onReady: @escaping @Sendable ([String]) -> Void = { _ in }
    ) async throws -> ConsistencyWatch {
        var followed = configuration.services
        if followed.isEmpty { followed = try await invalidationServices(configuration) }
        let metrics = WatchMetrics(sampleRate: configuration.sampler.rate)
        for service in followed { metrics.follow(service) }
        let pending = PendingChecks(capacity: configuration.maxPending)
        let topics = Dictionary(uniqueKeysWithValues: followed.map { (configuration.topics.invalidations(service: $0), $0) })
        let follower = try InvalidationFollower(
            topics: topics, configuration: configuration, pending: pending, metrics: metrics, logger: logger, onReady: onReady)
        let checker = ConsistencyChecker(configuration: configuration, pending: pending, nodes: nodes, metrics: metrics, logger: logger)
        let endpoint = WatchEndpoint.application(
            registry: metrics.registry, host: metricsHost, port: metricsPort, logger: logger, onListening: onListening)
        return ConsistencyWatch(services: [endpoint, checker, follower], metrics: metrics, followed: followed)
    }

    /// The services of every `<prefix>inval.<service>` topic on the broker.
    private static func invalidationServices(_ configuration: WatchConfiguration) async throws -> [String] {
        let admin = try KafkaAdmin(configuration: configuration.kafka)
        let prefix = configuration.topics.invalidations(service: "")
        let services = try await admin.listTopics().keys.filter { $0.hasPrefix(prefix) && $0.count > prefix.count }
            .map { String($0.dropFirst(prefix.count)) }.sorted()
        guard !services.isEmpty else {
            throw OperatorError("the broker at \(configuration.kafka.bootstrapServers) has no \(prefix)* topic to follow; name the services or start the bus first")
        }
        return services
    }
}
