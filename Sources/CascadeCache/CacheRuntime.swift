import CascadeKafka
import CascadeWire
import Logging
import ServiceLifecycle

/// What every cache front end (the RESP server of `cascade node`, the HTTP server of
/// `cascade gateway`) runs behind it: the store and, with Kafka, the registration producer and
/// publisher, the invalidation consumer and the reporter. The front end goes between them in
/// `services(front:)`.
public struct CacheRuntime: Sendable {
    public let node: CacheNode
    /// Started before the front end: the producer, the registration publisher, the consumer.
    private let feeds: [any Service]
    /// Started after the front end (it reports the address the front end listens on).
    private let reporter: (any Service)?

    /// `onReading` is called once the invalidation consumer reads its topic, at once without
    /// Kafka. `onApplied` sees each message after the store applied it.
    public init(
        configuration: NodeConfiguration, kafka: KafkaConfiguration?, topics: Topics, logger: Logger,
        onReading: @escaping @Sendable () -> Void, onApplied: (@Sendable (InvalidationMessage) -> Void)? = nil
    ) throws(KafkaError) {
        guard let kafka else {
            node = CacheNode(configuration: configuration, publisher: NoRegistrationPublisher(), logger: logger)
            feeds = []
            reporter = nil
            onReading()
            return
        }
        let producer = try KafkaProducer(configuration: Self.registrationProducer(kafka), logger: logger) { deliveries in
            for delivery in deliveries {
                if case .failure(let error) = delivery.result {
                    logger.error("a registration was not delivered", metadata: ["error": "\(error)"])
                }
            }
        }
        let publisher = KafkaRegistrationPublisher(
            producer: producer, topics: topics, maxQueuedBytes: configuration.registrationQueueLimit, logger: logger)
        node = CacheNode(configuration: configuration, publisher: publisher, logger: logger)
        let consumer = try InvalidationConsumer(
            node: node, configuration: kafka, topics: topics, logger: logger, onReady: onReading, onApplied: onApplied)
        feeds = [producer, publisher, consumer]
        reporter = NodeReporter(node: node, producer: producer, topics: topics, logger: logger)
    }

    /// In start order; a ServiceGroup stops them in reverse: the front end first, the producer
    /// (which flushes what is left) last.
    public func services(front: any Service) -> [any Service] {
        feeds + [front] + (reporter.map { [$0] } ?? [])
    }

    /// `linger.ms` of the node's producer (registrations, tombstones, reports) unless `-X`
    /// says otherwise. Each message set a node sends is a set the bus replays at start, and the
    /// embedded broker answers a fetch with one set per partition, walking its list of sets
    /// from the head to find the offset: at 1 ms a node under a steady flow sent about one set
    /// per registration, and a restarted bus took 22 s instead of 1.3 s to replay 100,000 of
    /// them (docs/bus.md, "Rebuild after a restart"). A registration is race-checked against a
    /// 2 s window: 10 ms more is nothing there.
    public static let registrationLingerMs = 10

    static func registrationProducer(_ kafka: KafkaConfiguration) -> KafkaConfiguration {
        var configuration = kafka
        // A registration that never arrives is a value that is never invalidated: retry until
        // delivered (librdkafka's queue bounds what waits), rather than drop after 30 s.
        if configuration.properties["message.timeout.ms"] == nil { configuration.properties["message.timeout.ms"] = "0" }
        if configuration.properties["linger.ms"] == nil { configuration.properties["linger.ms"] = String(registrationLingerMs) }
        return configuration
    }
}

/// The node's maintenance tick (expiry, tombstones, gauges) where no RESP server runs it;
/// one last tick at shutdown so the tombstones of the last keys still go out.
public final class MaintenanceTicker: Service {
    private let node: CacheNode

    public init(node: CacheNode) {
        self.node = node
    }

    public func run() async throws {
        let interval = Duration.milliseconds(node.configuration.maintenanceIntervalMillis)
        // A periodic tick, not a wait for a condition: nothing to await but the interval.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                self.node.maintain()
            }
        }
        node.maintain()
    }
}
