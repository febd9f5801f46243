import CascadeKafka
import Testing

@testable import CascadeBus

/// When the rebuild counts as done, without Kafka: the ends taken at start, positions read,
/// first offsets asked again. (Each transition is called before `#expect`: the macro cannot
/// take a mutating call.)
@Suite("Catching up with the state topics' ends taken at start")
struct CatchUpTests {
    static func mark(_ topic: String, _ partition: Int32, _ low: Int64, _ high: Int64) -> PartitionWatermarks {
        PartitionWatermarks(topic: topic, partition: partition, low: low, high: high)
    }

    @Test("caught up once every partition's position reaches its end, in whatever order")
    func reachedWhenAllDone() {
        var catchUp = CatchUp([Self.mark("deps", 0, 0, 10), Self.mark("deps", 1, 0, 5), Self.mark("ledger", 0, 3, 7)])
        #expect(!catchUp.isCaughtUp && catchUp.remaining == 3 && catchUp.behind == 19)

        catchUp.read(topic: "deps", partition: 1, first: 0, last: 4)
        #expect(catchUp.remaining == 2)
        catchUp.read(topic: "deps", partition: 0, first: 0, last: 8)
        #expect(catchUp.remaining == 2 && catchUp.behind == 5, "offset 9 is still to read")
        catchUp.read(topic: "ledger", partition: 0, first: 3, last: 6)
        catchUp.read(topic: "deps", partition: 0, first: 9, last: 9)
        #expect(catchUp.isCaughtUp && catchUp.behind == 0 && catchUp.pending.isEmpty)
    }

    @Test("empty partitions, and partitions whose first offset is their end, are done at once")
    func emptyPartitionsAreDone() {
        let catchUp = CatchUp([Self.mark("deps", 0, 0, 0), Self.mark("deps", 1, 42, 42), Self.mark("nodes", 0, 0, 0)])
        #expect(catchUp.isCaughtUp && catchUp.remaining == 0)
        #expect(CatchUp([]).isCaughtUp)
        let partly = CatchUp([Self.mark("deps", 0, 0, 0), Self.mark("deps", 1, 0, 1)])
        #expect(partly.pending == [CatchUp.Key(topic: "deps", partition: 1)])
    }

    @Test("messages written after start count as read past the end; the target never moves")
    func writesAfterStartDoNotMoveTheEnd() {
        var catchUp = CatchUp([Self.mark("deps", 0, 0, 100)])
        catchUp.read(topic: "deps", partition: 0, first: 0, last: 250)
        #expect(catchUp.isCaughtUp)
        // Read again from earlier (a redelivery): still done.
        catchUp.read(topic: "deps", partition: 0, first: 50, last: 60)
        #expect(catchUp.isCaughtUp && catchUp.partitions[.init(topic: "deps", partition: 0)]?.position == 251)
    }

    @Test("a partition trimmed past its end before it was read is done: nothing is left to read there")
    func trimmedPastTheEnd() {
        var catchUp = CatchUp([Self.mark("deps", 0, 0, 100), Self.mark("deps", 1, 0, 100)])
        catchUp.probed(Self.mark("deps", 0, 60, 300))
        #expect(catchUp.remaining == 2, "trimmed, but offsets 60 to 99 are still to read")
        #expect(catchUp.behind == 140)
        catchUp.probed(Self.mark("deps", 0, 100, 400))
        #expect(catchUp.remaining == 1)
        // The first offset never goes back (an older answer arriving late).
        catchUp.probed(Self.mark("deps", 0, 10, 400))
        #expect(catchUp.remaining == 1 && catchUp.partitions[.init(topic: "deps", partition: 0)]?.low == 100)
    }

    @Test("offsets passed over without a message are counted as skipped, per jump")
    func skippedOffsets() {
        var catchUp = CatchUp([Self.mark("deps", 0, 5, 100)])
        // The consumer fell off the trimmed head: its next message is far ahead.
        catchUp.read(topic: "deps", partition: 0, first: 5, last: 9)
        catchUp.read(topic: "deps", partition: 0, first: 40, last: 49)
        catchUp.read(topic: "deps", partition: 0, first: 70, last: 120)
        let progress = catchUp.progress
        #expect(progress == [
            CatchUp.TopicProgress(topic: "deps", total: 95, behind: 0, partitions: 1, pendingPartitions: 0, skipped: 50, jumps: 2),
        ])
        #expect(catchUp.isCaughtUp)
        // A first message beyond the start at snapshot is a jump too.
        var late = CatchUp([Self.mark("deps", 0, 0, 10)])
        late.read(topic: "deps", partition: 0, first: 4, last: 4)
        #expect(late.progress.first?.skipped == 4 && late.progress.first?.jumps == 1 && late.behind == 5)
    }

    @Test("progress per topic, and the line /readyz shows")
    func progressAndSummary() {
        var catchUp = CatchUp([
            Self.mark("cascade.deps", 0, 0, 1000), Self.mark("cascade.deps", 1, 0, 1000), Self.mark("cascade.ledger", 0, 0, 10),
            Self.mark("cascade.nodes", 0, 0, 0),
        ])
        catchUp.read(topic: "cascade.deps", partition: 0, first: 0, last: 999)
        catchUp.read(topic: "cascade.deps", partition: 1, first: 0, last: 499)
        catchUp.read(topic: "cascade.ledger", partition: 0, first: 0, last: 9)
        #expect(catchUp.progress.map(\.topic) == ["cascade.deps", "cascade.ledger", "cascade.nodes"])
        #expect(catchUp.progress[0].read == 1500 && catchUp.progress[0].total == 2000 && catchUp.progress[0].pendingPartitions == 1)
        #expect(catchUp.summary == "500 behind: cascade.deps 1500/2000 read, 500 to go on 1 of 2 partitions")
        catchUp.read(topic: "cascade.deps", partition: 1, first: 500, last: 999)
        #expect(catchUp.summary == "caught up")
    }

    @Test("partitions not in the snapshot are ignored")
    func unknownPartitions() {
        var catchUp = CatchUp([Self.mark("deps", 0, 0, 1)])
        catchUp.read(topic: "deps", partition: 7, first: 0, last: 100)
        catchUp.probed(Self.mark("other", 0, 100, 100))
        #expect(!catchUp.isCaughtUp && catchUp.partitions.count == 1)
    }
}

/// The rebuild's phases and its waiters, with stand-in waiters.
@Suite("The rebuild's readiness")
struct RebuildStateTests {
    typealias State = RebuildState<String>

    @Test("waiters wait through finding the ends and the catch-up, and are released once ready")
    func readyReleasesWaiters() {
        var state = State()
        let wait = state.waitForReady("admin")
        #expect(wait == .waiting && !state.isReady && state.pending == nil)
        state.endsUnknown("_TRANSPORT: broker down")
        #expect(state.summary == "asking where the state topics end (1 attempts failed, the last: _TRANSPORT: broker down)")
        state.endsFound(CatchUp([CatchUpTests.mark("deps", 0, 0, 2)]))
        #expect(!state.isCaughtUp && state.pending == [CatchUp.Key(topic: "deps", partition: 0)])
        state.track { $0.read(topic: "deps", partition: 0, first: 0, last: 1) }
        #expect(state.isCaughtUp && !state.isReady)
        let released = state.markReady()
        #expect(released == ["admin"] && state.isReady && state.summary == "ready")
        let later = state.waitForReady("late")
        #expect(later == .resumeNow)
        // Nothing is tracked once ready.
        state.track { $0.read(topic: "deps", partition: 0, first: 5, last: 5) }
        #expect(state.catchUp == nil && state.pending == nil)
    }

    @Test("stopping releases the waiters without readiness, and later ones do not wait")
    func stopReleases() {
        var state = State()
        _ = state.waitForReady("a")
        let released = state.stop()
        #expect(released == ["a"] && state.stopping && !state.isReady)
        let later = state.waitForReady("b")
        #expect(later == .resumeNow)
    }
}
