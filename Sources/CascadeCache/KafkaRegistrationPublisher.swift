import CascadeKafka
import CascadeStore
import CascadeWire
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Publishes registrations and tombstones to `cascade.deps`, and refresh hints to
/// `cascade.refresh.<service>`. `publish` is called on event-loop threads, so it only appends
/// to a bounded queue (`RegistrationQueue`: a SET ... DEPS claims room first, and is refused
/// when there is none); a background task drains the queue into the producer in batches, in
/// queue order, and is the one place that awaits Kafka. Delivery failures are the producer's
/// delivery handler's to log (see `NodeRuntime`).
public final class KafkaRegistrationPublisher: RegistrationPublisher, Service {
    enum Pending {
        case registration(Registration)
        case tombstone(kafkaKey: String, owner: RegistrationOwner)
        case refresh(service: String, hint: RefreshHint)
    }

    private let producer: KafkaProducer
    private let topic: String
    private let topics: Topics
    private let logger: Logger
    let queue: RegistrationQueue<Pending>

    /// `maxQueuedBytes` bounds what waits for the producer (`NodeConfiguration.registrationQueueLimit`).
    public init(
        producer: KafkaProducer, topics: Topics, maxQueuedBytes: Int = NodeConfiguration.defaultRegistrationQueueLimit,
        logger: Logger = Logger(label: "cascade.node")
    ) {
        self.producer = producer
        self.topic = topics.deps
        self.topics = topics
        self.logger = logger
        self.queue = RegistrationQueue(maxBytes: maxQueuedBytes)
    }

    public func reserve(bytes: Int) -> Bool {
        queue.reserve(bytes: bytes)
    }

    public func release(bytes: Int) {
        queue.release(bytes: bytes)
    }

    public func publish(_ registration: Registration) {
        publish(registration, reserved: 0)
    }

    public func publish(_ registration: Registration, reserved: Int) {
        let bytes = Registration.queuedBytes(key: registration.key.utf8.count, deps: registration.deps)
        queue.append([(.registration(registration), bytes)], reserved: reserved)
    }

    public var queuedBytes: Int { queue.usedBytes }

    public func publishTombstones(service: String, node: String, tombstones: [Tombstone]) {
        queue.append(tombstones.map {
            (.tombstone(kafkaKey: "\(service)/\($0.key)", owner: RegistrationOwner(node: node, incarnation: $0.incarnation)),
             Registration.queuedBytes(key: service.utf8.count + $0.key.utf8.count, deps: []))
        })
    }

    public func publishRefreshHints(service: String, hints: [RefreshHint]) {
        let dropped = queue.append(
            hints.map { (.refresh(service: service, hint: $0), Registration.queuedBytes(key: $0.key.utf8.count, deps: [])) },
            dropWhenFull: true)
        if dropped > 0 { logger.warning("registration queue full: refresh hints dropped", metadata: ["dropped": "\(dropped)"]) }
    }

    /// Drains the queue until graceful shutdown, then sends what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while let batch = await queue.next() {
                await send(batch)
            }
        } onGracefulShutdown: {
            self.queue.close()
        }
    }

    /// Enqueues the batch in order; only a full librdkafka queue makes this wait, and what
    /// waits still counts against the bound.
    private func send(_ batch: [(item: Pending, bytes: Int)]) async {
        for (item, bytes) in batch {
            defer { queue.sent(bytes: bytes) }
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
