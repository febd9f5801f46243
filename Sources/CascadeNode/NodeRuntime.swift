import CascadeCache
import CascadeKafka
import CascadeSync
import CascadeWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Synchronization

/// Everything one cache node runs, wired together: the RESP server in front of what every
/// cache runs (`CacheRuntime`: the store and, with Kafka, the invalidation consumer and the
/// registration publisher). `cascade node` and `cascade dev` both build nodes here.
public struct NodeRuntime: Sendable {
    public let node: CacheNode
    /// In start order; a ServiceGroup stops them in reverse: the listener first, the producer
    /// (which flushes what is left) last.
    public let services: [any Service]

    public init(
        configuration: NodeConfiguration, resp: RESPSettings = RESPSettings(), kafka: KafkaConfiguration?, topics: Topics,
        group: any EventLoopGroup,
        logger: Logger, onListening: @escaping @Sendable (SocketAddress) -> Void,
        onReady: @escaping @Sendable () -> Void, onApplied: (@Sendable (InvalidationMessage) -> Void)? = nil
    ) throws(KafkaError) {
        // Ready once the consumer reads (at once without Kafka) and the server listens; the
        // server listens only once the consumer reads, so no write can miss an invalidation.
        let readiness = ReadinessLatch(count: 2, onReady: onReady)
        let reading = OneTimeGate()
        let cache = try CacheRuntime(
            configuration: configuration, kafka: kafka, topics: topics, logger: logger,
            onReading: {
                reading.open()
                readiness.arrive()
            }, onApplied: onApplied)
        node = cache.node
        let server = RESPServer(node: node, settings: resp, group: group, beforeListening: { await reading.wait() }) { address in
            onListening(address)
            readiness.arrive()
        }
        services = cache.services(front: server)
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
