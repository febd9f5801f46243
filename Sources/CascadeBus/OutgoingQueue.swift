import CascadeKafka
import NIOConcurrencyHelpers

/// What the share follower's read loop hands its sender (`ShareFollower.sendLoop`), in the
/// order the batches were read. The sender takes everything waiting at once, so it is never
/// more than one send behind the reading. Unbounded on purpose: what waits is what the follower
/// read from the same broker the sender writes to, so a broker that stops taking messages stops
/// handing them out too, and the backlog is at most what one send's wait let through.
final class OutgoingQueue: Sendable {
    /// What one batch read caused.
    struct Sending: Sendable {
        var messages: [OutboundMessage]
        /// Rebuild waiters, resumed once these messages and all before them are delivered.
        var finished: [(Holdings.Waiter, Bool)] = []
        /// How far registrations were routed, and records judged, when the batch was read:
        /// committed once delivered.
        var positions: [TopicPartition]?
    }

    private struct State {
        var waiting: [Sending] = []
        var taker: CheckedContinuation<[Sending]?, Never>?
        /// Between `open` and `finish`: a sender takes what is enqueued.
        var isOpen = false
    }

    private let state = NIOLockedValueBox(State())

    /// A sender takes from now on.
    func open() {
        state.withLockedValue { $0.isOpen = true }
    }

    /// Queues `sending` for the sender. With no sender (not open, or finished) nothing will
    /// send it: its waiters are resumed at once, as not rebuilt.
    func enqueue(_ sending: Sending) {
        let (taker, dropped) = state.withLockedValue { state -> (CheckedContinuation<[Sending]?, Never>?, Sending?) in
            guard state.isOpen else { return (nil, sending) }
            state.waiting.append(sending)
            defer { state.taker = nil }
            return (state.taker, nil)
        }
        if let taker { taker.resume(returning: takeWaiting()) }
        for (waiter, _) in dropped?.finished ?? [] { waiter.resume(returning: false) }
    }

    /// Everything waiting, oldest first, once there is something; nil once finished and drained.
    func takeAll() async -> [Sending]? {
        await withCheckedContinuation { taker in
            let now = state.withLockedValue { state -> [Sending]?? in
                if !state.waiting.isEmpty {
                    defer { state.waiting = [] }
                    return .some(state.waiting)
                }
                guard state.isOpen else { return .some(nil) }
                state.taker = taker
                return nil
            }
            if let now { taker.resume(returning: now) }
        }
    }

    /// No more batches: the sender drains what waits, then stops.
    func finish() {
        let taker = state.withLockedValue { state in
            state.isOpen = false
            defer { state.taker = nil }
            return state.taker
        }
        taker?.resume(returning: nil)
    }

    private func takeWaiting() -> [Sending] {
        state.withLockedValue { state in
            defer { state.waiting = [] }
            return state.waiting
        }
    }
}
