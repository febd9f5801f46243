@testable import CascadeBus
import CascadeKafka
import CascadeWire
import Testing

/// What a `ShareFollower` holds, how far it vouches for its registrations being routed, and
/// which edge records its owner judges.
@Suite struct HoldingsTests {
    let deps = "cascade.deps"
    let edges = "cascade.edges"

    /// A standby of partition 3 that has read its registrations up to offset 20 and its edge
    /// records up to 10, all three state topics read to their ends (so rebuilt). `judged`:
    /// where the owners' judgments of its records were committed.
    func rebuiltStandby(judged: Int64? = nil) async -> Holdings {
        var holdings = Holdings(depsTopic: deps, edgesTopic: edges)
        guard case .new(let generation) = holdings.holding(3, owned: false) else { fatalError("a new holding") }
        let ends = [PartitionWatermarks(topic: deps, partition: 3, low: 0, high: 20), PartitionWatermarks(topic: edges, partition: 3, low: 0, high: 10)]
        let reading = holdings.rebuilding(3, generation: generation, ends: ends, committed: 0, judged: judged)
        #expect(reading)
        _ = holdings.read([(deps, 3, 20), (edges, 3, 10)], onRebuilt: { _ in })
        let rebuilt = await withCheckedContinuation { continuation in
            if let now = holdings.wait(3, generation: generation, continuation, onRebuilt: { _ in }) { continuation.resume(returning: now) }
        }
        #expect(rebuilt)
        return holdings
    }

    @Test("a promoted standby vouches for no registration it routed as a standby until it has read it again")
    func promotedStandbyCommitsOnlyWhatItReadAgain() async {
        var holdings = await rebuiltStandby()
        #expect(holdings.committable().isEmpty, "a standby commits nothing")
        guard case .held(let generation, let promoted) = holdings.holding(3, owned: true) else {
            Issue.record("held already")
            return
        }
        #expect(promoted)
        // Its owner had committed 12: 12...19 were routed here without producing.
        let seeks = holdings.produceRoutes(3, generation: generation, from: 12)
        #expect(seeks)
        #expect(holdings.committable().filter { $0.topic == deps }.map(\.next) == [12])
        // Behind its ends again, it is still rebuilt: the promotion waits for nothing (a waiter
        // kept here would never be woken; answered false at once, the test fails instead of hanging).
        let rebuilt = await withCheckedContinuation { continuation in
            continuation.resume(returning: holdings.wait(3, generation: generation, continuation, onRebuilt: { _ in }) ?? false)
        }
        #expect(rebuilt, "a rebuilt partition answers at once")
        // Messages fetched before the seek still arrive: they prove nothing about 12...19.
        _ = holdings.read([(deps, 3, 21), (deps, 3, 22)], onRebuilt: { _ in })
        #expect(holdings.committable().filter { $0.topic == deps }.map(\.next) == [12])
        // The stream from 12 again: now each registration read was produced.
        _ = holdings.read([(deps, 3, 13), (deps, 3, 14)], onRebuilt: { _ in })
        #expect(holdings.committable().filter { $0.topic == deps }.map(\.next) == [14])
        _ = holdings.read([(deps, 3, 23)], onRebuilt: { _ in })
        #expect(holdings.committable().filter { $0.topic == deps }.map(\.next) == [23])
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
        #expect(holdings.committable().filter { $0.topic == deps }.map(\.next) == [21])
    }

    func record(_ key: String, setAt: Int64) -> EdgeRecord {
        EdgeRecord(key: CacheKeyRef(service: "catalog", key: key), partition: 3, dependencies: [], setAtMillis: setAt)
    }

    /// Promotes the standby of `rebuiltStandby`; returns its generation.
    func promote(_ holdings: inout Holdings) throws -> Int {
        guard case .held(let generation, let promoted) = holdings.holding(3, owned: true) else { throw CancellationError() }
        #expect(promoted)
        return generation
    }

    @Test("a standby judges nothing; promoted, it judges the records from where the owners committed their judgments, the last of each key")
    func promotedStandbyJudgesFromTheCommit() async throws {
        var holdings = await rebuiltStandby(judged: 8)
        let generation = try #require(holdings.generation(of: 3))
        #expect(!holdings.awaitsJudging(3, generation: generation), "a standby does not judge")
        // Offsets 8 and 9 landed before the gain and were read in the rebuild; 10 to 12 after it.
        let landed: [(Int64, EdgeRecord)] = [
            (8, record("product:a", setAt: 1)), (9, record("product:b", setAt: 2)), (10, record("product:a", setAt: 3)),
            (11, record("product:c", setAt: 4)), (12, record("product:d", setAt: 5)),
        ]
        let judgeNow = holdings.landed(3, landed.map { .init(offset: $0.0, record: $0.1) }, atMillis: 1_000)
        #expect(judgeNow.isEmpty, "kept until an owner judges")
        let promoted = try promote(&holdings)
        #expect(promoted == generation)
        #expect(holdings.awaitsJudging(3, generation: generation))
        // The owner committed its judgments up to 11 meanwhile: 11 and 12 are left to judge.
        let pending = holdings.startJudging(3, generation: generation, from: 11)
        #expect(pending?.map(\.key.key) == ["product:c", "product:d"])
        let again = holdings.startJudging(3, generation: generation, from: 11)
        #expect(again == nil, "judging starts once")
        let late = holdings.landed(3, [.init(offset: 13, record: record("product:e", setAt: 6))], atMillis: 1_001)
        #expect(late.map(\.key.key) == ["product:e"], "records read before judging started and kept after it are judged at once")
    }

    @Test("records of the same key kept before judging started: only the last is judged, the value the node holds now")
    func lastRecordOfEachKeyIsJudged() async throws {
        var holdings = await rebuiltStandby(judged: 10)
        let generation = try promote(&holdings)
        let landed = [record("product:a", setAt: 1), record("product:b", setAt: 2), record("product:a", setAt: 3)]
        _ = holdings.landed(3, landed.enumerated().map { .init(offset: 10 + Int64($0.offset), record: $0.element) }, atMillis: 1_000)
        let pending = holdings.startJudging(3, generation: generation, from: nil)
        #expect(pending?.map(\.key.key) == ["product:b", "product:a"])
        #expect(pending?.map(\.setAtMillis) == [2, 3], "product:a's earlier value was replaced before it could be judged")
    }

    @Test("with no owner's judgment ever committed, what the edges held at the gain is history: only records landing after it are kept")
    func noCommitKeepsFromTheEnd() async throws {
        var holdings = await rebuiltStandby(judged: nil)
        let generation = try promote(&holdings)
        _ = holdings.landed(3, [.init(offset: 9, record: record("product:a", setAt: 1)), .init(offset: 10, record: record("product:b", setAt: 2))], atMillis: 1_000)
        let pending = holdings.startJudging(3, generation: generation, from: nil)
        #expect(pending?.map(\.key.key) == ["product:b"])
    }

    @Test("an owner commits how far it judged only once what it kept is judged and delivered; demoted, it commits nothing")
    func judgedPositionIsCommittedOnceKeptRecordsAreJudged() async throws {
        var holdings = await rebuiltStandby(judged: 10)
        let generation = try promote(&holdings)
        _ = holdings.produceRoutes(3, generation: generation, from: 20)
        #expect(holdings.committable().map(\.topic) == [deps], "no judgment yet: nothing vouched for in the edges")
        _ = holdings.startJudging(3, generation: generation, from: 10)
        #expect(holdings.committable().map(\.topic) == [deps], "judging, but what was kept is not delivered yet")
        holdings.judgedKept(3, generation: generation)
        _ = holdings.read([(edges, 3, 14)], onRebuilt: { _ in })
        #expect(holdings.committable().filter { $0.topic == edges }.map(\.next) == [14])
        holdings.demote(3)
        #expect(holdings.committable().isEmpty)
        #expect(!holdings.awaitsJudging(3, generation: generation))
        let kept = holdings.landed(3, [.init(offset: 14, record: record("product:a", setAt: 1))], atMillis: 1_000)
        #expect(kept.isEmpty, "demoted, it keeps what lands for its next promotion")
    }
}
