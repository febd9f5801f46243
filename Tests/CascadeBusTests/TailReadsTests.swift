@testable import CascadeBus
import CascadeWire
import NIOConcurrencyHelpers
import Testing

/// One read-back of the invalidation topics serves the gains it covers.
@Suite struct TailReadsTests {
    /// Read-backs, noted by the window they start at; each finishes once the gate is open.
    final class Reads: Sendable {
        let started = NIOLockedValueBox<[Int64]>([])
        let isOpen = NIOLockedValueBox(false)

        func read(_ sinceMillis: Int64) async throws -> InvalidationTail.Outcome {
            started.withLockedValue { $0.append(sinceMillis) }
            while !isOpen.withLockedValue({ $0 }) { await Task.yield() }
            return InvalidationTail.Outcome(messages: 1, keys: 1, coveredSinceMillis: sinceMillis)
        }

        func awaitStarted(_ count: Int) async {
            while started.withLockedValue({ $0.count }) < count { await Task.yield() }
        }
    }

    @Test("partitions gained together share one read; an earlier window or a later gain reads again")
    func sharedWhereItCovers() async throws {
        let reads = Reads()
        let tail = TailReads(memory: RecentInvalidations(retentionMillis: 60_000, startMillis: 0)) { try await reads.read($0) }
        let gain = Timestamps.nowMillis()
        let first = Task { try await tail.read(sinceMillis: gain - 3000, gainedAtMillis: gain) }
        await reads.awaitStarted(1)
        // Asked while the first read is under way (or just after it ended: it still covers this gain).
        let second = Task { try await tail.read(sinceMillis: gain - 2000, gainedAtMillis: gain) }
        reads.isOpen.withLockedValue { $0 = true }
        #expect(try await first.value.coveredSinceMillis == gain - 3000)
        #expect(try await second.value.coveredSinceMillis == gain - 2000, "covered from its own window")
        #expect(reads.started.withLockedValue { $0 } == [gain - 3000], "one read for both")

        // A window before the last read's start needs a read of its own; so does a gain after it began.
        _ = try await tail.read(sinceMillis: gain - 9000, gainedAtMillis: gain)
        _ = try await tail.read(sinceMillis: gain, gainedAtMillis: Timestamps.nowMillis() + 1000)
        #expect(reads.started.withLockedValue { $0 } == [gain - 3000, gain - 9000, gain])
    }

    struct Unreadable: Error {}

    @Test("a read that fails leaves the memory claiming nothing from before now; one cut short, nothing before what it covered")
    func memoryAfterARead() async throws {
        let memory = RecentInvalidations(retentionMillis: 60_000, startMillis: 0)
        let failing = TailReads(memory: memory) { _ in throw Unreadable() }
        let before = Timestamps.nowMillis()
        await #expect(throws: Unreadable.self) { try await failing.read(sinceMillis: before - 5000, gainedAtMillis: before) }
        #expect(memory.coverageStartMillis >= before)

        let fresh = RecentInvalidations(retentionMillis: 60_000, startMillis: 0)
        let short = TailReads(memory: fresh) { since in InvalidationTail.Outcome(coveredSinceMillis: since + 1500) }
        _ = try await short.read(sinceMillis: 10_000, gainedAtMillis: 12_000)
        #expect(fresh.coverageStartMillis == 11_500)
    }
}
