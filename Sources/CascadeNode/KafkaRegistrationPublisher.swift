import CascadeKafka
import CascadeStore
import CascadeWire
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Publishes registrations and tombstones to `cascade.deps`, and refresh hints to
/// `cascade.refresh.<service>`. `publish` is called on event-loop
/// threads, so it only appends to a queue; a background task drains the queue into the
/// producer in batches, in queue order, and is the one place that awaits Kafka. Delivery
/// failures are the producer's delivery handler's to log (see `NodeRuntime`).
public final class KafkaRegistrationPublisher: RegistrationPublisher, Service {
    private enum Pending {
        case registration(Registration)
        case tombstone(kafkaKey: String, owner: RegistrationOwner)
        case refresh(service: String, hint: RefreshHint)
    }

    private let producer: KafkaProducer
    private let topic: String
    private let topics: Topics
    private let logger: Logger
    private let queue = NIOLockedValueBox<(items: [Pending], waiter: CheckedContinuation<Void, Never>?, closed: Bool)>(([], nil, false))

    public init(producer: KafkaProducer, topics: Topics, logger: Logger) {
        self.producer = producer
        self.topic = topics.deps
        self.topics = topics
        self.logger = logger
    }

    public func publish(_ registration: Registration) {
        enqueue([.registration(registration)])
    }

    public func publishTombstones(service: String, node: String, tombstones: [Tombstone]) {
        enqueue(tombstones.map {
            .tombstone(kafkaKey: "\(service)/\($0.key)", owner: RegistrationOwner(node: node, incarnation: $0.incarnation))
        })
    }

    public func publishRefreshHints(service: String, hints: [RefreshHint]) {
        enqueue(hints.map { .refresh(service: service, hint: $0) })
    }

    private func enqueue(_ items: [Pending]) {
        let waiter = queue.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.items.append(contentsOf: items)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Drains the queue until graceful shutdown, then sends what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while let batch = await nextBatch() {
                await send(batch)
            }
        } onGracefulShutdown: {
            let waiter = self.queue.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                state.closed = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// The next non-empty batch, or nil once closed and drained.
    private func nextBatch() async -> [Pending]? {
        while true {
            let (batch, closed) = queue.withLockedValue { state -> ([Pending], Bool) in
                defer { state.items = [] }
                return (state.items, state.closed)
            }
            if !batch.isEmpty { return batch }
            if closed { return nil }
            await withCheckedContinuation { continuation in
                let ready = queue.withLockedValue { state -> Bool in
                    if !state.items.isEmpty || state.closed { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Enqueues the batch in order; only a full librdkafka queue makes this wait.
    private func send(_ batch: [Pending]) async {
        for item in batch {
            let (topic, key, value, headers): (String, String, [UInt8]?, [KafkaHeader]) = switch item {
            case .registration(let registration): (self.topic, registration.kafkaKey, registration.encoded(), [])
            case .refresh(let service, let hint): (topics.refresh(service: service), hint.key, hint.encoded(), [])
            case .tombstone(let kafkaKey, let owner):
                (self.topic, kafkaKey, nil, [
                    KafkaHeader(name: RegistrationOwner.nodeHeader, string: owner.node),
                    KafkaHeader(name: RegistrationOwner.incarnationHeader, string: String(owner.incarnation)),
                ])
            }
            do throws(KafkaError) {
                try await producer.produce(topic: topic, key: Array(key.utf8), value: value, headers: headers, token: 0)
            } catch {
                logger.error("could not publish a registration", metadata: ["key": "\(key)", "error": "\(error)"])
            }
        }
    }
}
