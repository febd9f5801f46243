import CRdKafka
import NIOConcurrencyHelpers

/// One message for `KafkaProducer.sendInOrder`.
public struct ProducerMessage: Sendable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    public var partition: Int32?
    /// The message's time, ms since 1970; 0 for now.
    public var timestampMillis: Int64

    public init(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil, timestampMillis: Int64 = 0
    ) {
        self.timestampMillis = timestampMillis
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }
}

extension KafkaProducer {
    /// Enqueues `messages` in their order and returns each one's report, in that order, once
    /// every one has its report. Concurrent `send`s reach librdkafka in whatever order their
    /// tasks run, so two messages for one partition could swap; these cannot.
    public func sendInOrder(_ messages: [ProducerMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        // A bridge, not a wait on shared state: the delivery reports resume it once.
        return await withCheckedContinuation { done in
            let reports = ReportCollector(count: messages.count) { done.resume(returning: $0) }
            enqueueInOrder(messages[...], reports: reports)
        }
    }

    /// Enqueues without waiting while librdkafka's queue has room; from the first message it
    /// refuses, the rest wait for room in a task of their own, still in order.
    private func enqueueInOrder(_ messages: ArraySlice<ProducerMessage>, reports: ReportCollector) {
        for index in messages.indices {
            let message = messages[index]
            guard let token = awaitReport(index, message, reports) else { continue }
            let code = enqueue(
                topic: message.topic, key: message.key, value: message.value, headers: message.headers, partition: message.partition,
                timestampMillis: message.timestampMillis, token: token)
            switch code {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                continue
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                _ = state.withLockedValue { $0.abandon(token) }
                Task { await enqueueWaitingForRoom(messages[index...], reports: reports) }
                return
            default:
                state.withLockedValue { $0.abandon(token) }?.resume(.failure(KafkaError(code, context: "produce to \(message.topic)")))
            }
        }
    }

    private func enqueueWaitingForRoom(_ messages: ArraySlice<ProducerMessage>, reports: ReportCollector) async {
        for index in messages.indices {
            let message = messages[index]
            guard let token = awaitReport(index, message, reports) else { continue }
            do throws(KafkaError) {
                try await produce(
                    topic: message.topic, key: message.key, value: message.value, headers: message.headers, partition: message.partition,
                    timestampMillis: message.timestampMillis, token: token)
            } catch {
                state.withLockedValue { $0.abandon(token) }?.resume(.failure(error))
            }
        }
    }

    /// A token whose report goes to `reports` at `index`; nil (and the failure recorded) when
    /// the message cannot be sent at all.
    private func awaitReport(_ index: Int, _ message: ProducerMessage, _ reports: ReportCollector) -> UInt64? {
        guard isValidTopicName(message.topic) else {
            reports.record(index, .failure(.invalidTopic(message.topic)))
            return nil
        }
        guard let token = state.withLockedValue({ $0.awaitReport(ReportWaiter { reports.record(index, $0) }) }) else {
            reports.record(index, .failure(.closed))
            return nil
        }
        return token
    }
}

/// The reports of one `sendInOrder`, handed over once all are in.
private final class ReportCollector: Sendable {
    private let state: NIOLockedValueBox<(reports: [Result<DeliveryReport, KafkaError>?], missing: Int)>
    private let done: @Sendable ([Result<DeliveryReport, KafkaError>]) -> Void

    init(count: Int, done: @escaping @Sendable ([Result<DeliveryReport, KafkaError>]) -> Void) {
        state = NIOLockedValueBox((Array(repeating: nil, count: count), count))
        self.done = done
    }

    func record(_ index: Int, _ report: Result<DeliveryReport, KafkaError>) {
        let all = state.withLockedValue { state -> [Result<DeliveryReport, KafkaError>]? in
            guard state.reports[index] == nil else { return nil }
            state.reports[index] = report
            state.missing -= 1
            return state.missing == 0 ? state.reports.map { $0! } : nil
        }
        if let all { done(all) }
    }
}
