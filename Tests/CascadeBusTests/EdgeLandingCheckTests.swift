@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Testing

/// The race check of partitioned state where an edge record lands, on the pipeline core with the
/// fixture's clock in ms.
@Suite struct EdgeLandingCheckTests {
    let fixture: PipelineFixture
    let landing: EdgeLandingCheck

    init() throws {
        fixture = try PipelineFixture()
        let processor = fixture.processor
        let raceCheck = RegistrationRaceCheck(
            ledger: processor.ledger, index: processor.index, planner: processor.planner,
            recent: processor.recentInvalidations, windowMillis: 2000)
        let share = IndexShare(index: processor.index, partitioner: StatePartitioner(count: 1), holding: [0])
        landing = EdgeLandingCheck(raceCheck: raceCheck, share: share, topics: fixture.topics, settleMillis: 0)
    }

    func record(_ key: String, setAt: Int64) throws -> EdgeRecord {
        EdgeRecord(
            key: CacheKeyRef(service: "order-service", key: key), partition: 0,
            dependencies: [try Dependency.parse("Product#p-1", service: "order-service")], setAtMillis: setAt)
    }

    @Test("a key's older registration landing after a newer one (a promoted standby produces it again) leaves the current value")
    func olderRecordAfterANewerOne() throws {
        #expect(landing.check(try record("summary", setAt: 1000), nowMillis: 1100).isEmpty, "nothing changed yet")
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 5000)
        #expect(landing.check(try record("summary", setAt: 10_000), nowMillis: 10_100).isEmpty, "computed well after the change")
        // The registration of 1000 again: its value was replaced at 10,000 and is no reason to drop that one.
        #expect(landing.check(try record("summary", setAt: 1000), nowMillis: 10_200).isEmpty)
        // Judged alone, a record of 1000 is stale: the event came after it.
        #expect(!landing.check(try record("other", setAt: 1000), nowMillis: 10_300).isEmpty)
        // The same registration again is judged again: it is still the current value.
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 3), nowMillis: 11_000)
        #expect(!landing.check(try record("summary", setAt: 10_000), nowMillis: 11_100).isEmpty)
    }

    @Test("a record judged stale again (by the next holder of its partition) hands on a hop its key's share expands again")
    func recordJudgedTwice() throws {
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 5000)
        let hops = try [10_300, 10_900].map { now in
            let messages = landing.check(try record("other", setAt: 4000), nowMillis: Int64(now))
            let hop = try #require(messages.first { $0.topic == fixture.topics.hops })
            return try StateHop.decode(try #require(hop.value), partition: try #require(hop.partition))
        }
        #expect(hops[0].root != hops[1].root)
        // The share holding the key's partition: what was stored on the key between the two
        // judgments goes with the second.
        #expect(landing.share.closure(of: hops[0]) != nil)
        #expect(landing.share.closure(of: hops[1]) != nil, "the second judgment's hop was taken for the first's")
    }
}
