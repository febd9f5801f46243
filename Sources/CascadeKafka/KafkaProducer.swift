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

    private let handle: RDHandle
    private let queue: RDHandle
    private let logger: Logger
    private let state = NIOLockedValueBox(StateMachine())
    private let deliveryHandler: DeliveryHandler?

    private typealias ReportWaiter = CheckedContinuation<Result<DeliveryReport, KafkaError>, Never>
    private typealias StateMachine = ProducerStateMachine<PollThread, ReportWaiter, CheckedContinuation<Void, Never>>

    /// Defaults the caller's properties override.
    static let defaults: [String: String] = [
        "enable.idempotence": "true",
        // One request in flight per broker: with more, librdkafka's mock cluster (the embedded
        // broker) acknowledges idempotent batches it then drops. Batching keeps the rate up.
        "max.in.flight.requests.per.connection": "1",
        // Latency first: under load batches still fill while a request is in flight
        // (docs/bus.md lists the settings to raise for throughput).
        "linger.ms": "1",
        "message.timeout.ms": "30000",
        "queue.buffering.max.messages": "1000000",
        "queue.buffering.max.kbytes": "1048576",
    ]

    public init(
        configuration: KafkaConfiguration, logger: Logger = Logger(label: "cascade.kafka.producer"),
        deliveryHandler: DeliveryHandler? = nil
    ) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(configuration.merged(with: Self.defaults))
        rd_kafka_conf_set_events(conf, Int32(RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR))
        let client = try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf)
        self.handle = RDHandle(pointer: client)
        self.queue = RDHandle(pointer: rd_kafka_queue_get_main(client))
        self.logger = logger
        self.deliveryHandler = deliveryHandler
        let thread = PollThread(name: "cascade-producer-poll") { [self] _ in
            self.pollOnce(timeoutMs: 100)
            return true
        }
        state.withLockedValue { $0.started(thread) }
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
        rd_kafka_destroy(handle.pointer)
    }

    /// Sends one message and returns where it landed, or the error librdkafka reported
    /// (after `message.timeout.ms` at most).
    @discardableResult
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) async throws(KafkaError) -> DeliveryReport {
        guard isValidTopicName(topic) else { throw .invalidTopic(topic) }
        let result: Result<DeliveryReport, KafkaError> = await withCheckedContinuation { continuation in
            let token = state.withLockedValue { $0.awaitReport(continuation) }
            guard let token else { return continuation.resume(returning: .failure(.closed)) }
            let code = enqueue(topic: topic, key: key, value: value, headers: headers, partition: partition, token: token)
            switch code {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                break
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                // Rare: wait for room off this path, then enqueue for real.
                Task {
                    do throws(KafkaError) {
                        try await self.produce(topic: topic, key: key, value: value, headers: headers, partition: partition, token: token)
                    } catch {
                        self.state.withLockedValue { $0.abandon(token) }?.resume(returning: .failure(error))
                    }
                }
            default:
                state.withLockedValue { $0.abandon(token) }?.resume(returning: .failure(KafkaError(code, context: "produce to \(topic)")))
            }
        }
        return try result.get()
    }

    /// Sends one message with a text key.
    @discardableResult
    public func send(
        topic: String, key: String?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) async throws(KafkaError) -> DeliveryReport {
        try await send(topic: topic, key: key.map { Array($0.utf8) }, value: value, headers: headers, partition: partition)
    }

    /// Enqueues one message; its report goes to `deliveryHandler` with `token`, whose top bit
    /// must be clear. Waits, without blocking a thread, while librdkafka's queue is full.
    /// Runs on the caller's executor: no hop to the global one.
    public nonisolated(nonsending) func produce(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil,
        token: UInt64
    ) async throws(KafkaError) {
        func attempt() -> rd_kafka_resp_err_t {
            enqueue(topic: topic, key: key, value: value, headers: headers, partition: partition, token: token)
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

    private func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?, token: UInt64
    ) -> rd_kafka_resp_err_t {
        let headerList = RDKafkaHeaders.make(headers)
        let opaque = UnsafeMutableRawPointer(bitPattern: UInt(token))
        // withCString: the implicit String-to-pointer conversion copies the name into a new
        // array on every call.
        let code = topic.withCString { topicName in
            withOptionalBytes(key) { keyPointer, keyCount in
                withOptionalBytes(value) { valuePointer, valueCount in
                    cascade_produce(
                        handle.pointer, topicName, partition ?? RD_KAFKA_PARTITION_UA, keyPointer, keyCount,
                        valuePointer, valueCount, headerList, opaque)
                }
            }
        }
        if code != RD_KAFKA_RESP_ERR_NO_ERROR, let headerList { rd_kafka_headers_destroy(headerList) }
        return code
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
    public var outstanding: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    /// Waits up to `timeout` for every enqueued message to be acknowledged; true when done.
    @discardableResult
    public func flush(timeout: Duration) async -> Bool {
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return await runBlocking("cascade-producer-flush") {
            rd_kafka_flush(handle.pointer, milliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// Flushes for at most `timeout`, then stops polling and fails whatever is still waiting.
    /// Never hangs.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        if !(await flush(timeout: timeout)) {
            logger.warning("producer shut down with \(outstanding) messages unacknowledged")
        }
        guard let thread = state.withLockedValue({ $0.beginClosing() }) else { return }
        thread.stop { rd_kafka_queue_yield(queue.pointer) }
        await runBlocking("cascade-producer-join") { thread.join() }
        let (reports, space) = state.withLockedValue { $0.close() }
        for continuation in reports { continuation.resume(returning: .failure(.closed)) }
        for continuation in space { continuation.resume() }
    }

    // MARK: - Delivery reports

    private func pollOnce(timeoutMs: Int32) {
        guard let event = rd_kafka_queue_poll(queue.pointer, timeoutMs) else { return }
        defer { rd_kafka_event_destroy(event) }
        switch rd_kafka_event_type(event) {
        case Int32(RD_KAFKA_EVENT_DR):
            handleDeliveries(event)
        case Int32(RD_KAFKA_EVENT_ERROR):
            let error = KafkaError(rd_kafka_event_error(event))
            let text = String(cString: rd_kafka_event_error_string(event))
            if rd_kafka_event_error_is_fatal(event) != 0 {
                logger.critical("fatal producer error", metadata: ["error": "\(error.name): \(text)"])
            } else {
                logger.warning("producer error", metadata: ["error": "\(error.name): \(text)"])
            }
        default:
            break
        }
    }

    private func handleDeliveries(_ event: OpaquePointer) {
        var messages = [UnsafePointer<rd_kafka_message_t>?](repeating: nil, count: 1024)
        var deliveries: [Delivery] = []
        var sendReports: [(token: UInt64, report: Result<DeliveryReport, KafkaError>)] = []
        var topicNames = TopicNameCache()
        while true {
            let count = messages.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_event_message_array(event, buffer.baseAddress, buffer.count)
            }
            if count == 0 { break }
            for index in 0..<count {
                guard let message = messages[index] else { continue }
                let token = UInt64(UInt(bitPattern: message.pointee._private))
                let result: Result<DeliveryReport, KafkaError>
                if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    result = .success(
                        DeliveryReport(
                            topic: topicNames.name(of: message.pointee.rkt), partition: message.pointee.partition,
                            offset: message.pointee.offset))
                } else {
                    result = .failure(KafkaError(message.pointee.err, context: "delivery to \(topicNames.name(of: message.pointee.rkt))"))
                }
                if token & StateMachine.sendTokenBit != 0 {
                    sendReports.append((token, result))
                } else {
                    deliveries.append(Delivery(token: token, result: result))
                }
            }
        }
        if !deliveries.isEmpty { deliveryHandler?(deliveries) }
        let (reports, space) = state.withLockedValue { $0.delivered(sendReports) }
        for (continuation, report) in reports { continuation.resume(returning: report) }
        for continuation in space { continuation.resume() }
    }
}

extension KafkaProducer: Service {
    /// Runs until graceful shutdown, then flushes (bounded) and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

/// Topic names by librdkafka topic handle, so a batch does not build one String per message.
struct TopicNameCache {
    private var names: [OpaquePointer: String] = [:]

    mutating func name(of topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        if let name = names[topic] { return name }
        let name = String(cString: rd_kafka_topic_name(topic))
        names[topic] = name
        return name
    }
}

func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
