import CRdKafka
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// A Kafka producer over librdkafka. Batching and `linger.ms` are librdkafka's; idempotence is
/// on unless the configuration says otherwise. Delivery reports are drained on a dedicated
/// thread in batches; each message's context travels as librdkafka's opaque pointer.
///
/// Two ways to send: `send` awaits one message's delivery report; `produce` enqueues with a
/// caller-chosen token and reports arrive in batches through `deliveryHandler`, the fast path
/// for pipelines that track many messages at once.
public final class KafkaProducer: Sendable {
    /// One delivery report for a message enqueued with `produce(token:)`.
    public struct Delivery: Sendable {
        public var token: UInt64
        public var result: Result<DeliveryReport, KafkaError>
    }

    public typealias DeliveryHandler = @Sendable ([Delivery]) -> Void

    private let client: RDClient
    /// Delivery reports and errors, drained by the poll thread.
    private let reports: RDHandle
    /// Flushes, on one thread for the producer's life.
    private let worker: ClientWorker
    private let logger: Logger
    let state = NIOLockedValueBox(StateMachine())
    private let deliveryHandler: DeliveryHandler?

    /// Who hears one `send`'s report: its continuation, or a message of `sendInOrder`.
    struct ReportWaiter: Sendable {
        let resume: @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    }
    typealias StateMachine = ProducerStateMachine<PollThread, ReportWaiter, CheckedContinuation<Void, Never>>

    /// Defaults the caller's properties override.
    static let defaults: [String: String] = [
        "enable.idempotence": "true",
        // One request in flight per broker: with more, librdkafka's mock cluster (the embedded
        // broker) acknowledges idempotent batches it then drops. Batching keeps the rate up.
        "max.in.flight.requests.per.connection": "1",
        // Latency first: under load batches still fill while a request is in flight
        // (docs/bus.md lists the settings to raise for throughput).
        "linger.ms": "1",
        // Kafka's default partitioner (the Java client's), not librdkafka's CRC32: a key's
        // partition is then the same whoever produced it, which the bus's partitioned state
        // relies on (`StatePartitioner`).
        "partitioner": "murmur2_random",
        "message.timeout.ms": "30000",
        "queue.buffering.max.messages": "1000000",
        "queue.buffering.max.kbytes": "1048576",
    ]

    public init(
        configuration: KafkaConfiguration, logger: Logger = Logger(label: "cascade.kafka.producer"),
        deliveryHandler: DeliveryHandler? = nil
    ) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(configuration.merged(with: Self.defaults))
        (client, reports) = try RDKafkaProducer.make(conf: conf)
        worker = ClientWorker(client: client, name: "cascade-producer-work")
        self.logger = logger
        self.deliveryHandler = deliveryHandler
        let thread = PollThread(name: "cascade-producer-poll") { [self] _ in
            self.pollOnce(timeoutMs: 100)
            return true
        }
        state.withLockedValue { $0.started(thread) }
    }

    deinit {
        // The poll thread holds the producer: it has left librdkafka by now. The worker may
        // still hold the client, which goes with the last holder.
        worker.stop()
        RDKafkaProducer.destroy(reports: reports)
    }

    /// Sends one message and returns where it landed, or the error librdkafka reported
    /// (after `message.timeout.ms` at most).
    @discardableResult
    /// `timestampMillis`: the message's time, 0 for now.
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil, timestampMillis: Int64 = 0
    ) async throws(KafkaError) -> DeliveryReport {
        let reports = await sendInOrder([ProducerMessage(
            topic: topic, key: key, value: value, headers: headers, partition: partition, timestampMillis: timestampMillis)])
        return try reports[0].get()
    }

    /// Sends one message with a text key.
    @discardableResult
    public func send(
        topic: String, key: String?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil, timestampMillis: Int64 = 0
    ) async throws(KafkaError) -> DeliveryReport {
        try await send(
            topic: topic, key: key.map { Array($0.utf8) }, value: value, headers: headers, partition: partition, timestampMillis: timestampMillis)
    }

    /// Enqueues one message; its report goes to `deliveryHandler` with `token`, whose top bit
    /// must be clear. Waits, without blocking a thread, while librdkafka's queue is full.
    /// Runs on the caller's executor: no hop to the global one.
    public nonisolated(nonsending) func produce(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil,
        timestampMillis: Int64 = 0, token: UInt64
    ) async throws(KafkaError) {
        func attempt() -> rd_kafka_resp_err_t {
            enqueue(topic: topic, key: key, value: value, headers: headers, partition: partition, timestampMillis: timestampMillis, token: token)
        }
        var code = attempt()
        while code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
            // Try again once the batch count is noted: room made by a batch before it is used
            // now, and any batch after it ends the wait, so no room goes unnoticed.
            let (open, seenBatches) = state.withLockedValue { ($0.isOpen, $0.deliveryBatches) }
            guard open else { throw .closed }
            code = attempt()
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                await waitForSpace(seenBatches: seenBatches)
                code = attempt()
            }
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, context: "produce to \(topic)") }
    }

    /// Enqueues one message without waiting for anything, from any thread; its report goes
    /// to `deliveryHandler` (if any) with `token`. Throws when librdkafka's queue is full
    /// rather than wait: for senders on their own thread whose next attempt comes soon anyway.
    public func produceWithoutWaiting(topic: String, key: [UInt8]?, value: [UInt8]?, token: UInt64) throws(KafkaError) {
        guard state.withLockedValue({ $0.isOpen }) else { throw .closed }
        let code = enqueue(topic: topic, key: key, value: value, headers: [], partition: nil, token: token)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, context: "produce to \(topic)") }
    }

    func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?, timestampMillis: Int64 = 0,
        token: UInt64
    ) -> rd_kafka_resp_err_t {
        RDKafkaProducer.enqueue(
            client, topic: topic, key: key, value: value, headers: headers, partition: partition, timestampMillis: timestampMillis, token: token)
    }

    /// Returns after the next batch of delivery reports, or at once if one came since the
    /// caller read `seenBatches` (room it made would otherwise go unnoticed) or on closing.
    private func waitForSpace(seenBatches: UInt64) async {
        await withCheckedContinuation { continuation in
            if state.withLockedValue({ $0.waitForSpace(continuation, seenBatches: seenBatches) }) == .retry {
                continuation.resume()
            }
        }
    }

    /// Messages waiting to be sent or acknowledged.
    public var outstanding: Int { RDKafkaProducer.outstanding(client) }

    /// Waits up to `timeout` for every enqueued message to be acknowledged; true when done.
    @discardableResult
    public func flush(timeout: Duration) async -> Bool {
        let client = self.client
        let milliseconds = timeout.librdkafkaMilliseconds
        return (try? await worker.run { RDKafkaProducer.flush(client, timeoutMs: milliseconds) }) ?? false
    }

    /// Flushes for at most `timeout`, then stops polling and fails whatever is still waiting.
    /// Never hangs.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        if !(await flush(timeout: timeout)) {
            logger.warning("producer shut down with \(outstanding) messages unacknowledged")
        }
        guard let thread = state.withLockedValue({ $0.beginClosing() }) else { return }
        thread.stop { RDKafkaProducer.wake(reports) }
        await thread.join()
        worker.stop()
        let (waiters, space) = state.withLockedValue { $0.close() }
        for waiter in waiters { waiter.resume(.failure(.closed)) }
        for continuation in space { continuation.resume() }
    }

    // MARK: - Delivery reports

    private func pollOnce(timeoutMs: Int32) {
        var deliveries: [Delivery] = []
        var sendReports: [(token: UInt64, report: Result<DeliveryReport, KafkaError>)] = []
        let event = RDKafkaProducer.poll(reports, timeoutMs: timeoutMs) { token, result in
            if token & StateMachine.sendTokenBit != 0 {
                sendReports.append((token, result))
            } else {
                deliveries.append(Delivery(token: token, result: result))
            }
        }
        switch event {
        case .deliveries:
            if !deliveries.isEmpty { deliveryHandler?(deliveries) }
            let (waiters, space) = state.withLockedValue { $0.delivered(sendReports) }
            for (waiter, report) in waiters { waiter.resume(report) }
            for continuation in space { continuation.resume() }
        case .error(let error, let text, let fatal):
            if fatal {
                logger.critical("fatal producer error", metadata: ["error": "\(error.name): \(text)"])
            } else {
                logger.warning("producer error", metadata: ["error": "\(error.name): \(text)"])
            }
        case nil:
            break
        }
    }
}

extension KafkaProducer: Service {
    /// Runs until graceful shutdown, then flushes (bounded) and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
