import DequeModule
import NIOConcurrencyHelpers

/// One sampled key of one invalidation, waiting for the race window to pass.
struct PendingCheck: Sendable {
    var service: String
    var key: String
    /// When the bus sent the invalidation (the Kafka message's timestamp), on its clock.
    var invalidatedAtMillis: Int64
    /// `Entity#id@version` of the root event, or the key a race-check invalidation came from.
    var cause: String
    var due: ContinuousClock.Instant
}

/// The checks waiting for their window, oldest first. Every check waits the same window from
/// when it was read, so the order of arrival is the order of due times and a deque is enough.
final class PendingChecks: Sendable {
    private let queue = NIOLockedValueBox(Deque<PendingCheck>())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// False when full: the caller counts the check as unchecked.
    func add(_ check: PendingCheck) -> Bool {
        queue.withLockedValue { queue in
            guard queue.count < capacity else { return false }
            queue.append(check)
            return true
        }
    }

    /// Up to `limit` checks due at `now`, and when the next one falls due.
    func takeDue(now: ContinuousClock.Instant, limit: Int) -> (due: [PendingCheck], next: ContinuousClock.Instant?) {
        queue.withLockedValue { queue in
            var due: [PendingCheck] = []
            while due.count < limit, let first = queue.first, first.due <= now {
                due.append(first)
                queue.removeFirst()
            }
            return (due, queue.first?.due)
        }
    }

    var count: Int { queue.withLockedValue { $0.count } }
}
