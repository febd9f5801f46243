import NIOConcurrencyHelpers

/// A bounded hand-off from the consumer's poll thread to one async reader. The poll thread
/// waits while it is full (in its `RDThreadPark`), which leaves further messages in
/// librdkafka's own bounded prefetch queue: back-pressure without unbounded memory.
///
/// Every event passes through the lock; a waiting reader's continuation only wakes it. (Handed
/// over through the continuation itself, an event's buffers were reported by ThreadSanitizer
/// as written by the poll thread and read by the reader with nothing ordering the two.)
final class ConsumerEventBuffer: Sendable {
    private struct State {
        var events: [KafkaConsumerEvent] = []
        var head = 0
        var reader: CheckedContinuation<Void, Never>?
        var finished = false
        var dropping = false
        /// `wake()` came while the reader was busy and nothing was buffered.
        var woken = false
        /// Where the poll thread waits for room. Weak: the poll thread owns it, and it holds
        /// the client, whose opaque context holds this buffer.
        weak var park: RDThreadPark?
        /// The poll thread waits (or is about to) for room.
        var pusherWaiting = false

        var buffered: Int { events.count - head }

        /// The park to wake, if the poll thread waits for it.
        mutating func takeWaitingPusher() -> RDThreadPark? {
            guard pusherWaiting else { return nil }
            pusherWaiting = false
            return park
        }
    }

    private enum Push {
        case done
        case wake(CheckedContinuation<Void, Never>)
        case wait(RDThreadPark)
    }

    private let state = NIOLockedValueBox(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Where the poll thread waits while the buffer is full; until one is attached, a full
    /// buffer takes events anyway.
    func attach(_ park: RDThreadPark) {
        state.withLockedValue { $0.park = park }
    }

    /// Called on the poll thread. Blocks while full, unless the buffer is finishing.
    func push(_ event: KafkaConsumerEvent) { push(event, waitingForRoom: true) }

    /// Called by the owner of a manually assigned consumer: an ownership change goes behind
    /// the messages already handed over, and never waits for room (it is one small event per
    /// change, and the reader must hear of it to drain).
    func pushControl(_ event: KafkaConsumerEvent) { push(event, waitingForRoom: false) }

    private func push(_ event: KafkaConsumerEvent, waitingForRoom: Bool) {
        while true {
            let push = state.withLockedValue { state -> Push in
                if state.finished { return .done }
                if waitingForRoom && state.buffered >= capacity {
                    if state.dropping { return .done }
                    if let park = state.park {
                        state.pusherWaiting = true
                        return .wait(park)
                    }
                }
                state.events.append(event)
                guard let reader = state.reader else { return .done }
                state.reader = nil
                return .wake(reader)
            }
            switch push {
            case .done: return
            case .wake(let reader): return reader.resume()
            // Bounded, so a wake-up lost to a closing client costs at most this.
            case .wait(let park): park.park(timeoutMs: 100)
            }
        }
    }

    /// Resumes a waiting reader with `.woken`; a busy reader gets it at its next `next()`,
    /// unless an event is buffered by then (the reader then has something to look at anyway).
    func wake() {
        state.withLockedValue { state in
            if state.buffered == 0 && !state.finished { state.woken = true }
            defer { state.reader = nil }
            return state.reader
        }?.resume()
    }

    /// From now on a full buffer drops instead of blocking (used while closing).
    func stopBlocking() {
        state.withLockedValue { state in
            state.dropping = true
            return state.takeWaitingPusher()
        }?.unpark()
    }

    /// Ends the sequence: the reader gets nil once what is buffered is read.
    func finish() {
        let (reader, pusher) = state.withLockedValue { state in
            state.finished = true
            defer { state.reader = nil }
            return (state.reader, state.takeWaitingPusher())
        }
        pusher?.unpark()
        reader?.resume()
    }

    /// The next event, waiting for one; nil once finished and drained.
    func next() async -> KafkaConsumerEvent? {
        while true {
            if let answer = take() { return answer }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (waits, pusher) = state.withLockedValue { state -> (Bool, RDThreadPark?) in
                    guard state.buffered == 0, !state.finished, !state.woken else { return (false, nil) }
                    state.reader = continuation
                    return (true, state.takeWaitingPusher())
                }
                pusher?.unpark()
                if !waits { continuation.resume() }
            }
        }
    }

    /// The next buffered event, `.woken`, or nil (`.some(nil)`) once finished; nil when there
    /// is nothing yet.
    private func take() -> KafkaConsumerEvent?? {
        let (answer, pusher) = state.withLockedValue { state -> (KafkaConsumerEvent??, RDThreadPark?) in
            if state.head < state.events.count {
                state.woken = false
                let event = state.events[state.head]
                state.head += 1
                if state.head > 64 && state.head * 2 > state.events.count {
                    state.events.removeFirst(state.head)
                    state.head = 0
                }
                return (.some(event), state.takeWaitingPusher())
            } else if state.finished {
                return (.some(nil), nil)
            } else if state.woken {
                state.woken = false
                return (.some(.some(KafkaConsumerEvent.woken)), nil)
            }
            return (nil, nil)
        }
        pusher?.unpark()
        return answer
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
