import Atomics
import CascadeCache
import CascadeKafka
import NIOConcurrencyHelpers
import CascadeWire
import Logging
import NIOCore
import ServiceLifecycle

/// Everything one cache node runs, wired together: the RESP server in front of what every
/// cache runs (`CacheRuntime`: the store and, with Kafka, the invalidation consumer and the
/// registration publisher). `cascade node` and `cascade dev` both build nodes here.
public struct NodeRuntime: Sendable {
    public let node: CacheNode
    /// In start order; a ServiceGroup stops them in reverse: the listener first, the producer
    /// (which flushes what is left) last.
    public let services: [any Service]

    public init(
        configuration: NodeConfiguration, kafka: KafkaConfiguration?, topics: Topics, group: any EventLoopGroup,
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
        let server = RESPServer(node: node, group: group, beforeListening: { await reading.wait() }) { address in
            onListening(address)
            readiness.arrive()
        }
        services = cache.services(front: server)
    }
}

/// Opens once; `wait` returns when it is open (at once after that).
final class OneTimeGate: Sendable {
    private let state = NIOLockedValueBox<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLockedValue { state -> Bool in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// Calls `onReady` once, when `count` parts have said they are ready.
final class ReadinessLatch: Sendable {
    private let remaining: ManagedAtomic<Int>
    private let onReady: @Sendable () -> Void

    init(count: Int, onReady: @escaping @Sendable () -> Void) {
        self.remaining = ManagedAtomic(count)
        self.onReady = onReady
    }

    func arrive() {
        if remaining.wrappingDecrementThenLoad(ordering: .acquiringAndReleasing) == 0 { onReady() }
    }
}
