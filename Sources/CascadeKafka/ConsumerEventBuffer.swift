import Foundation
import NIOConcurrencyHelpers

/// A bounded hand-off from the consumer's poll thread to one async reader. The poll thread
/// blocks while it is full, which leaves further messages in librdkafka's own bounded
/// prefetch queue: back-pressure without unbounded memory.
// @unchecked Sendable: all state is touched only under its lock.
final class ConsumerEventBuffer: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [KafkaConsumerEvent] = []
    private var head = 0
    private var reader: CheckedContinuation<KafkaConsumerEvent?, Never>?
    private var finished = false
    private var dropping = false
    /// `wake()` came while the reader was busy and nothing was buffered.
    private var woken = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Called on the poll thread. Blocks while full, unless the buffer is finishing.
    func push(_ event: KafkaConsumerEvent) { push(event, waitingForRoom: true) }

    /// Called by the owner of a manually assigned consumer: an ownership change goes behind
    /// the messages already handed over, and never waits for room (it is one small event per
    /// change, and the reader must hear of it to drain).
    func pushControl(_ event: KafkaConsumerEvent) { push(event, waitingForRoom: false) }

    private func push(_ event: KafkaConsumerEvent, waitingForRoom: Bool) {
        condition.lock()
        while waitingForRoom && events.count - head >= capacity && !dropping && !finished {
            condition.wait()
        }
        if finished || (waitingForRoom && dropping && events.count - head >= capacity) {
            condition.unlock()
            return
        }
        if let waiting = reader {
            reader = nil
            condition.unlock()
            waiting.resume(returning: event)
            return
        }
        events.append(event)
        condition.unlock()
    }

    /// Resumes a waiting reader with `.woken`; a busy reader gets it at its next `next()`,
    /// unless an event is buffered by then (the reader then has something to look at anyway).
    func wake() {
        condition.lock()
        if let waiting = reader {
            reader = nil
            condition.unlock()
            waiting.resume(returning: .woken)
            return
        }
        if head == events.count && !finished { woken = true }
        condition.unlock()
    }

    /// From now on a full buffer drops instead of blocking (used while closing).
    func stopBlocking() {
        condition.lock()
        dropping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the sequence: the reader gets nil once what is buffered is read.
    func finish() {
        condition.lock()
        finished = true
        let waiting = reader
        reader = nil
        condition.broadcast()
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    func next() async -> KafkaConsumerEvent? {
        await withCheckedContinuation { continuation in
            condition.lock()
            if head < events.count {
                woken = false
                let event = events[head]
                head += 1
                if head > 64 && head * 2 > events.count {
                    events.removeFirst(head)
                    head = 0
                }
                condition.signal()
                condition.unlock()
                continuation.resume(returning: event)
            } else if finished {
                condition.unlock()
                continuation.resume(returning: nil)
            } else if woken {
                woken = false
                condition.unlock()
                continuation.resume(returning: .woken)
            } else {
                reader = continuation
                condition.signal()
                condition.unlock()
            }
        }
    }
}

/// What a consumer yields: batches of messages in partition order, and the rebalance events
/// between them.
public enum KafkaConsumerEvent: Sendable {
    case messages([KafkaMessage])
    case assigned([TopicPartition])
    case revoked([TopicPartition])
    case error(KafkaError)
    /// Nothing new: the reader was woken by `KafkaConsumer.wake()`.
    case woken
}

/// The consumer's events as an AsyncSequence; one reader at a time.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let buffer: ConsumerEventBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: ConsumerEventBuffer

        public mutating func next() async -> KafkaConsumerEvent? {
            await buffer.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }
}
