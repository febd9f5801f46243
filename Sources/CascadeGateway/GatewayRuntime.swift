import CascadeCache
import CascadeKafka
import CascadeWire
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Everything one gateway runs: a cache node without a RESP server (its store, registration
/// publisher, invalidation consumer, reporter and maintenance), the upstream client and the
/// HTTP server in front. `cascade gateway` and `cascade dev --gateway-upstream` build it here.
public struct GatewayRuntime: Sendable {
    public let cache: GatewayCache
    /// In start order; a ServiceGroup stops them in reverse: the HTTP server first, the
    /// node's producer and the upstream client last.
    public let services: [any Service]

    /// `onReady` is called once the HTTP server listens and the invalidation consumer reads.
    public init(
        configuration: GatewayConfiguration, node nodeConfiguration: NodeConfiguration, kafka: KafkaConfiguration?,
        topics: Topics, logger: Logger, onApplied: (@Sendable (InvalidationMessage) -> Void)? = nil,
        onReady: @escaping @Sendable (_ url: String) -> Void
    ) throws(KafkaError) {
        let gate = ReadyPair(onReady: onReady)
        let runtime = try CacheRuntime(
            configuration: nodeConfiguration, kafka: kafka, topics: topics, logger: logger,
            onReading: { gate.nodeReady() }, onApplied: onApplied)
        let upstream = HTTPUpstream(url: configuration.upstream)
        let fetching: any Upstream = configuration.tracing.map { TracedUpstream(upstream, tracing: $0) } ?? upstream
        cache = GatewayCache(node: runtime.node, upstream: fetching, configuration: configuration, logger: logger)
        let application = buildGatewayApplication(cache: cache, logger: logger) { host, port in
            gate.listening(url: "http://\(host):\(port)")
        }
        // No RESP server runs the store's maintenance here: the ticker takes the front's place.
        services = [UpstreamClientService(upstream: upstream)] + runtime.services(front: MaintenanceTicker(node: runtime.node))
            + [application]
    }

    /// Creates the gateway's invalidation topic where the cluster accepts CreateTopics (the
    /// bus also produces to it, which auto-creates it where that is on).
    public static func createTopic(kafka: KafkaConfiguration, topics: Topics, service: String, partitions: Int, logger: Logger) async {
        let name = topics.invalidations(service: service)
        do {
            let admin = try KafkaAdmin(configuration: kafka)
            guard try await admin.listTopics(timeout: .seconds(5))[name] == nil else { return }
            _ = try await admin.createTopics([.init(name: name, partitions: partitions)], timeout: .seconds(2))
        } catch {
            logger.notice("could not create \(name); relying on auto-creation", metadata: ["error": "\(error)"])
        }
    }
}


/// Calls `onReady` once both the node side and the HTTP side are ready.
final class ReadyPair: Sendable {
    private let state = NIOLockedValueBox<(node: Bool, url: String?, done: Bool)>((false, nil, false))
    private let onReady: @Sendable (String) -> Void

    init(onReady: @escaping @Sendable (String) -> Void) {
        self.onReady = onReady
    }

    func nodeReady() { update { $0.node = true } }
    func listening(url: String) { update { $0.url = url } }

    private func update(_ change: (inout (node: Bool, url: String?, done: Bool)) -> Void) {
        let url = state.withLockedValue { state -> String? in
            change(&state)
            guard state.node, let url = state.url, !state.done else { return nil }
            state.done = true
            return url
        }
        if let url { onReady(url) }
    }
}
