import CascadeKafka
import CascadeSync
import CascadeWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Synchronization

/// Everything one cache node runs, wired together: the store, the RESP server and, with Kafka,
/// the invalidation consumer and the registration publisher. `cascade node` and `cascade dev`
/// both build nodes here; `cascade gateway` builds one with `front: .embedded`, its HTTP
/// server in front of the store instead of the RESP server.
public struct NodeRuntime: Sendable {
    public let node: CacheNode
    /// In start order; a ServiceGroup stops them in reverse: the listener first, the producer
    /// (which flushes what is left) last.
    public let services: [any Service]

    /// What serves the store: the RESP server, or the embedding process (which then calls
    /// `CacheNode.listening` itself); the maintenance tick runs either way.
    public enum Front: Sendable {
        case resp
        case embedded
    }

    public init(
        configuration: NodeConfiguration, kafka: KafkaConfiguration?, topics: Topics, group: any EventLoopGroup,
        logger: Logger, front: Front = .resp, onListening: @escaping @Sendable (SocketAddress) -> Void,
        onReady: @escaping @Sendable () -> Void, onApplied: (@Sendable (InvalidationMessage) -> Void)? = nil
    ) throws(KafkaError) {
        if front == .embedded {
            let embedded = try Self.embedded(
                configuration: configuration, kafka: kafka, topics: topics, logger: logger, onReady: onReady, onApplied: onApplied)
            node = embedded.node
            services = embedded.services
            return
        }
        guard let kafka else {
            node = CacheNode(configuration: configuration, publisher: NoRegistrationPublisher(), logger: logger)
            services = [RESPServer(node: node, group: group, onListening: { address in
                onListening(address)
                onReady()
            })]
            return
        }
        let producerConfiguration = Self.registrationProducer(kafka)
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger) { deliveries in
            for delivery in deliveries {
                if case .failure(let error) = delivery.result {
                    logger.error("a registration was not delivered", metadata: ["error": "\(error)"])
                }
            }
        }
        let publisher = KafkaRegistrationPublisher(
            producer: producer, topics: topics, maxQueuedBytes: configuration.registrationQueueLimit, logger: logger)
        node = CacheNode(configuration: configuration, publisher: publisher, logger: logger)
        let readiness = ReadinessLatch(count: 2, onReady: onReady)
        let reading = OneTimeGate()
        let consumer = try InvalidationConsumer(
            node: node, configuration: kafka, topics: topics, logger: logger,
            onReady: {
                reading.open()
                readiness.arrive()
            }, onApplied: onApplied)
        let server = RESPServer(node: node, group: group, beforeListening: { await reading.wait() }) { address in
            onListening(address)
            readiness.arrive()
        }
        let reporter = NodeReporter(node: node, producer: producer, topics: topics, logger: logger)
        services = [producer, publisher, consumer, server, reporter]
    }
}

extension NodeRuntime {
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

    /// A node with no server of its own: the registration publisher, the invalidation
    /// consumer, the reporter and the maintenance tick. Ready once the consumer reads.
    private static func embedded(
        configuration: NodeConfiguration, kafka: KafkaConfiguration?, topics: Topics, logger: Logger,
        onReady: @escaping @Sendable () -> Void, onApplied: (@Sendable (InvalidationMessage) -> Void)?
    ) throws(KafkaError) -> (node: CacheNode, services: [any Service]) {
        guard let kafka else {
            let node = CacheNode(configuration: configuration, publisher: NoRegistrationPublisher(), logger: logger)
            onReady()
            return (node, [MaintenanceTicker(node: node)])
        }
        let producerConfiguration = registrationProducer(kafka)
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger) { deliveries in
            for delivery in deliveries {
                if case .failure(let error) = delivery.result {
                    logger.error("a registration was not delivered", metadata: ["error": "\(error)"])
                }
            }
        }
        let publisher = KafkaRegistrationPublisher(
            producer: producer, topics: topics, maxQueuedBytes: configuration.registrationQueueLimit, logger: logger)
        let node = CacheNode(configuration: configuration, publisher: publisher, logger: logger)
        let consumer = try InvalidationConsumer(
            node: node, configuration: kafka, topics: topics, logger: logger, onReady: onReady, onApplied: onApplied)
        let reporter = NodeReporter(node: node, producer: producer, topics: topics, logger: logger)
        return (node, [producer, publisher, consumer, MaintenanceTicker(node: node), reporter])
    }
}

/// The node's maintenance tick (expiry, tombstones, gauges) where no RESP server runs it;
/// one last tick at shutdown so the tombstones of the last keys still go out.
final class MaintenanceTicker: Service {
    private let node: CacheNode

    init(node: CacheNode) {
        self.node = node
    }

    func run() async throws {
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

/// Opens once; `wait` returns when it is open (at once after that).
final class OneTimeGate: Sendable {
    private let isOpen = NIOLockedValueBox(false)
    private let opened = ChangeSignal()

    func open() {
        isOpen.withLockedValue { $0 = true }
        opened.changed()
    }

    /// Returns once open, or when the task is cancelled.
    func wait() async {
        _ = await opened.wait { isOpen.withLockedValue { $0 } }
    }
}

/// Calls `onReady` once, when `count` parts have said they are ready.
final class ReadinessLatch: Sendable {
    private let remaining: Synchronization.Atomic<Int>
    private let onReady: @Sendable () -> Void

    init(count: Int, onReady: @escaping @Sendable () -> Void) {
        self.remaining = Synchronization.Atomic(count)
        self.onReady = onReady
    }

    func arrive() {
        if remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { onReady() }
    }
}
