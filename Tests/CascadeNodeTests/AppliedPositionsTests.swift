@testable import CascadeCache
@testable import CascadeNode
import CascadeWire
import NIOConcurrencyHelpers
import Testing

@Suite("Applied positions, CASCADE.AFTER waiters and bounded staleness, without Kafka")
struct AppliedPositionsTests {
    @Test func waitersAreAnsweredOnceWhenAWatermarkCoversThemOrTheirTimeIsUp() {
        let positions = AppliedPositions()
        let answers = NIOLockedValueBox<[String: Bool]>([:])
        func waiter(_ name: String, _ partition: Int32, _ offset: Int64) -> AppliedPositions.Waiter {
            AppliedPositions.Waiter(partition: partition, offset: offset) { applied in
                answers.withLockedValue { $0[name] = applied }
            }
        }
        let early = waiter("early", 0, 5)
        let other = waiter("other", 1, 5)
        let late = waiter("late", 0, 50)
        #expect(positions.wait(early) == nil && positions.wait(other) == nil && positions.wait(late) == nil)
        positions.apply(SourceWatermark(partition: 0, through: 7, atMillis: 100))
        #expect(answers.withLockedValue { $0 } == ["early": true], "only the waiter the watermark covers")
        positions.apply(SourceWatermark(partition: 0, through: 3, atMillis: 90))
        #expect(positions.through(0) == 7, "a position never goes back")
        positions.expire(late)
        positions.expire(late)
        positions.apply(SourceWatermark(partition: 0, through: 60, atMillis: 200))
        #expect(answers.withLockedValue { $0 } == ["early": true, "late": false], "answered once, by the timer")
        #expect(positions.wait(waiter("now", 0, 60)) == true)
        #expect(positions.currentAsOfMillis == 200)
        positions.apply(SourceWatermark(partition: 1, through: 4, atMillis: 150))
        #expect(positions.currentAsOfMillis == 150, "the partition furthest behind counts")
    }

    @Test func aNodeWithMaxStalenessMissesPastTheBoundAndHitsAgain() {
        var configuration = NodeConfiguration(service: "s", maxStalenessMillis: 2000)
        configuration.store.clock = { 0 }
        let node = CacheNode(configuration: configuration, publisher: NoRegistrationPublisher())
        let start = node.startedAtMillis
        node.updateDegraded(now: start + 1000)
        #expect(!node.counters.degraded, "within the bound of its start")
        node.updateDegraded(now: start + 2500)
        #expect(node.counters.degraded, "no watermark for longer than the bound")
        node.apply(SourceWatermark(partition: 0, through: 1, atMillis: start + 2400))
        node.updateDegraded(now: start + 2500)
        #expect(!node.counters.degraded)
        node.updateDegraded(now: start + 4401)
        #expect(node.counters.degraded, "the last confirmation is 2001 ms old")
        #expect(node.stalenessMillis(now: start + 4401) == 2001)
    }
}

@Suite("The apply delay a node reports")
struct ApplyDelayTests {
    @Test("the longest delay since the last report, then none until another message")
    func longestSinceTheLastReport() async {
        let counters = NodeCounters()
        #expect(counters.takeLongestApplyDelay() == nil)
        counters.noteApplied(producedAtMillis: 1_000, nowMillis: 1_040)
        counters.noteApplied(producedAtMillis: 1_000, nowMillis: 3_500)
        counters.noteApplied(producedAtMillis: 3_000, nowMillis: 3_010)
        // A producer's clock ahead of ours is no negative delay.
        counters.noteApplied(producedAtMillis: 9_000, nowMillis: 3_020)
        #expect(counters.takeLongestApplyDelay() == 2_500)
        #expect(counters.takeLongestApplyDelay() == nil)
    }
}
