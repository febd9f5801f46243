import CascadeWire
import NIOConcurrencyHelpers

/// The bounded queue between the node's event loops and its Kafka producer. Its bound is in
/// bytes (what each item costs in memory, about): a registration must claim room before its
/// value is stored (`reserve`), so that the node answers OK only for a registration it has
/// queued, and refuses the command (`-TRYAGAIN`) when Kafka has fallen that far behind.
/// Tombstones and refresh hints come after the fact and cannot be refused: tombstones are
/// always queued (at most one per registered value the store held, so the store's budget
/// bounds them), hints are dropped when the queue is full (a hint is advice; nothing is lost).
final class RegistrationQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [(item: Item, bytes: Int)] = []
        /// Bytes of the items queued, plus the room registrations claimed but not queued yet.
        var queuedBytes = 0
        var reservedBytes = 0
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    let maxBytes: Int
    private let state = NIOLockedValueBox(State())

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// Claims `bytes` for a registration about to be stored; false when the queue is full. An
    /// empty queue admits any one registration, so a bound below one registration still moves.
    func reserve(bytes: Int) -> Bool {
        state.withLockedValue { state in
            let used = state.queuedBytes + state.reservedBytes
            guard used == 0 || used + bytes <= maxBytes else { return false }
            state.reservedBytes += bytes
            return true
        }
    }

    /// Gives back a claim whose value was not stored after all.
    func release(bytes: Int) {
        state.withLockedValue { $0.reservedBytes -= bytes }
    }

    /// Queues items, converting `reserved` claimed bytes; with `dropWhenFull`, items that do not
    /// fit are left out and counted in the result.
    @discardableResult
    func append(_ items: [(item: Item, bytes: Int)], reserved: Int = 0, dropWhenFull: Bool = false) -> Int {
        var dropped = 0
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.reservedBytes -= reserved
            for entry in items {
                if dropWhenFull && state.queuedBytes + state.reservedBytes + entry.bytes > maxBytes {
                    dropped += 1
                    continue
                }
                state.items.append(entry)
                state.queuedBytes += entry.bytes
            }
            defer { state.waiter = nil }
            return state.items.isEmpty ? nil : state.waiter
        }
        waiter?.resume()
        return dropped
    }

    /// The bytes an item handed to the producer no longer holds.
    func sent(bytes: Int) {
        state.withLockedValue { $0.queuedBytes -= bytes }
    }

    /// Bytes queued and claimed, for INFO and tests.
    var usedBytes: Int { state.withLockedValue { $0.queuedBytes + $0.reservedBytes } }

    /// Wakes `next` for good: it returns what is left, then nil.
    func close() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything queued, in order, once there is something; nil once closed and drained.
    /// Their bytes stay counted until `sent`, so the producer's own wait holds the bound.
    func next() async -> [(item: Item, bytes: Int)]? {
        while true {
            let (batch, closed) = state.withLockedValue { state -> ([(item: Item, bytes: Int)], Bool) in
                defer { state.items = [] }
                return (state.items, state.closed)
            }
            if !batch.isEmpty { return batch }
            if closed { return nil }
            await withCheckedContinuation { continuation in
                let ready = state.withLockedValue { state -> Bool in
                    if !state.items.isEmpty || state.closed { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }
}

extension Registration {
    /// What a queued registration is counted as: its key and dependencies, and what the
    /// message around them costs.
    static func queuedBytes(key: Int, deps: [String]) -> Int {
        deps.reduce(key + 128) { $0 + $1.utf8.count + 16 }
    }
}
