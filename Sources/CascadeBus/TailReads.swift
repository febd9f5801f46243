import CascadeWire
import NIOConcurrencyHelpers

/// Reads back the invalidation topics (`InvalidationTail`) once for every caller it can serve.
///
/// An instance that gains partitions rebuilds them side by side, and each one, once rebuilt,
/// needs what every instance invalidated since a race window before its gain; a takeover needs
/// the same. Read one by one, a dozen consumers read every invalidation partition at once, and on
/// the embedded broker none finished within its timeout: each failure made the memory claim
/// nothing, so every registration landing for a race window was invalidated. One read serves
/// every caller whose window starts no earlier than its own and whose gain came before the read
/// started: it covers from that window to at least the gain.
final class TailReads: Sendable {
    /// One read from `sinceMillis` to the topics' end, into the memory.
    private let readBack: @Sendable (_ sinceMillis: Int64) async throws -> InvalidationTail.Outcome
    /// The race check's memory of invalidations, which the reads fill.
    let memory: RecentInvalidations
    private let current = NIOLockedValueBox<Read?>(nil)

    private struct Read {
        var sinceMillis: Int64
        var startedAtMillis: Int64
        var task: Task<InvalidationTail.Outcome, any Error>
    }

    convenience init(tail: InvalidationTail, memory: RecentInvalidations) {
        self.init(memory: memory) { sinceMillis in try await tail.read(sinceMillis: sinceMillis, into: memory) }
    }

    init(memory: RecentInvalidations, readBack: @escaping @Sendable (_ sinceMillis: Int64) async throws -> InvalidationTail.Outcome) {
        self.memory = memory
        self.readBack = readBack
    }

    /// What was invalidated since `sinceMillis`, read into the memory by a read that started at
    /// or after `gainedAtMillis`: this caller's own, or one under way that covers it. The memory
    /// then claims nothing from before what the read covered; when the read fails, nothing from
    /// before now (every key dependency counts as stale for a race window), and this throws.
    func read(sinceMillis: Int64, gainedAtMillis: Int64) async throws -> InvalidationTail.Outcome {
        do {
            let outcome = try await shared(sinceMillis: sinceMillis, gainedAtMillis: gainedAtMillis)
            if outcome.coveredSinceMillis > sinceMillis { memory.forgetBefore(outcome.coveredSinceMillis) }
            return outcome
        } catch {
            memory.forgetBefore(Timestamps.nowMillis())
            throw error
        }
    }

    private func shared(sinceMillis: Int64, gainedAtMillis: Int64) async throws -> InvalidationTail.Outcome {
        let task = current.withLockedValue { current in
            if let read = current, read.sinceMillis <= sinceMillis, read.startedAtMillis >= gainedAtMillis { return read.task }
            let started = Timestamps.nowMillis()
            let task = Task { [readBack] in try await readBack(sinceMillis) }
            current = Read(sinceMillis: sinceMillis, startedAtMillis: started, task: task)
            return task
        }
        var outcome = try await task.value
        // Covered since the shared read's start, which may be earlier than this caller's.
        outcome.coveredSinceMillis = max(outcome.coveredSinceMillis, sinceMillis)
        return outcome
    }
}
