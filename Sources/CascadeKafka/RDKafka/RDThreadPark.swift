import CRdKafka

/// Where one thread waits until another wakes it: a poll of a librdkafka queue of its own that
/// nothing is ever sent to, woken by `rd_kafka_queue_yield` (a wake-up that comes before the
/// poll is kept, as `ClientWorker` relies on too). For the poll thread, which must block (it
/// is not a task) while the reader catches up; no lock of another kind is needed for it.
final class RDThreadPark: Sendable {
    private let queue: RDHandle
    /// The queue must go before the client does.
    private let client: RDClient

    init(client: RDClient) {
        self.client = client
        queue = RDHandle(pointer: rd_kafka_queue_new(client.pointer))
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
    }

    /// Blocks until `unpark()`, or at most `timeoutMs`.
    func park(timeoutMs: Int32) {
        if let event = rd_kafka_queue_poll(queue.pointer, timeoutMs) { rd_kafka_event_destroy(event) }
    }

    func unpark() {
        rd_kafka_queue_yield(queue.pointer)
    }
}
