@testable import CascadeBus
import CascadeKafka
import CascadeWire
import Testing

/// What a `ShareFollower` holds and how far it vouches for its registrations being routed.
@Suite struct HoldingsTests {
    let deps = "cascade.deps"

    /// A standby of partition 3 that has read its registrations up to offset 20, all three
    /// state topics read to their ends (so rebuilt).
    func rebuiltStandby() async -> Holdings {
        var holdings = Holdings(depsTopic: deps)
        guard case .new(let generation) = holdings.holding(3, owned: false) else { fatalError("a new holding") }
        let ends = [PartitionWatermarks(topic: deps, partition: 3, low: 0, high: 20)]
        let reading = holdings.rebuilding(3, generation: generation, ends: ends, committed: 0)
        #expect(reading)
        _ = holdings.read([(deps, 3, 20)], onRebuilt: { _ in })
        let rebuilt = await withCheckedContinuation { continuation in
            if let now = holdings.wait(3, generation: generation, continuation, onRebuilt: { _ in }) { continuation.resume(returning: now) }
        }
        #expect(rebuilt)
        return holdings
    }

    @Test("a promoted standby vouches for no registration it routed as a standby until it has read it again")
    func promotedStandbyCommitsOnlyWhatItReadAgain() async {
        var holdings = await rebuiltStandby()
        #expect(holdings.routedPositions().isEmpty, "a standby commits nothing")
        guard case .held(let generation, let promoted) = holdings.holding(3, owned: true) else {
            Issue.record("held already")
            return
        }
        #expect(promoted)
        // Its owner had committed 12: 12...19 were routed here without producing.
        let seeks = holdings.produceRoutes(3, generation: generation, from: 12)
        #expect(seeks)
        #expect(holdings.routedPositions().map(\.next) == [12])
        // Behind its ends again, it is still rebuilt: the promotion waits for nothing (a waiter
        // kept here would never be woken; answered false at once, the test fails instead of hanging).
        let rebuilt = await withCheckedContinuation { continuation in
            continuation.resume(returning: holdings.wait(3, generation: generation, continuation, onRebuilt: { _ in }) ?? false)
        }
        #expect(rebuilt, "a rebuilt partition answers at once")
        // Messages fetched before the seek still arrive: they prove nothing about 12...19.
        _ = holdings.read([(deps, 3, 21), (deps, 3, 22)], onRebuilt: { _ in })
        #expect(holdings.routedPositions().map(\.next) == [12])
        // The stream from 12 again: now each registration read was produced.
        _ = holdings.read([(deps, 3, 13), (deps, 3, 14)], onRebuilt: { _ in })
        #expect(holdings.routedPositions().map(\.next) == [14])
        _ = holdings.read([(deps, 3, 23)], onRebuilt: { _ in })
        #expect(holdings.routedPositions().map(\.next) == [23])
    }

    @Test("a promoted standby that had not read past the owner's commit reads on without a seek")
    func promotionBehindTheCommitNeedsNoSeek() async {
        var holdings = await rebuiltStandby()
        guard case .held(let generation, _) = holdings.holding(3, owned: true) else {
            Issue.record("held already")
            return
        }
        let seeks = holdings.produceRoutes(3, generation: generation, from: 20)
        #expect(!seeks)
        _ = holdings.read([(deps, 3, 21)], onRebuilt: { _ in })
        #expect(holdings.routedPositions().map(\.next) == [21])
    }

    @Test("records that landed before checking started are checked once per key: the last, the value the node holds now")
    func lastRecordOfEachKeyIsChecked() async {
        var holdings = await rebuiltStandby()
        func record(_ key: String, setAt: Int64) -> EdgeRecord {
            EdgeRecord(key: CacheKeyRef(service: "catalog", key: key), partition: 3, dependencies: [], setAtMillis: setAt)
        }
        for landed in [record("product:a", setAt: 1), record("product:b", setAt: 2), record("product:a", setAt: 3)] {
            holdings.uncheckedLanded(3, landed)
        }
        guard case .held(let generation, _) = holdings.holding(3, owned: false) else {
            Issue.record("held already")
            return
        }
        let pending = holdings.startChecking(3, generation: generation)
        #expect(pending.map(\.key.key) == ["product:b", "product:a"])
        #expect(pending.map(\.setAtMillis) == [2, 3], "product:a's earlier value was replaced before it could be judged")
    }
}
