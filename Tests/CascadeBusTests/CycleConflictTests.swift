import CascadeBus
import CascadeWire
import Testing

/// The example graph's cycle: order-summary shows the user's profile, user-orders lists the
/// order summaries, user-profile counts the user's orders.
@Suite("Concurrent updates inside one circular component")
struct CycleConflictTests {
    static func order(id: String = "o-1", userId: String = "u-1", at: String? = "2026-11-25T16:00:00.000Z", origin: String = "order-service") -> [UInt8] {
        PipelineFixture.event("Order", id, version: 4, origin: origin, at: at, attrs: ["userId": userId])
    }

    static func user(at: String? = "2026-11-25T16:00:00.400Z", origin: String = "user-service") -> [UInt8] {
        PipelineFixture.event("User", "u-1", version: 7, origin: origin, at: at, attrs: ["country": "fr"])
    }

    /// Registrations that close the cycle for these instances, so both events reach all three
    /// of its keys: the summary shows the profile, the order list holds the summary.
    static func registerCycle(_ fixture: PipelineFixture) {
        let summary = CacheKeyRef(service: "order-service", key: "order:o-1:summary")
        fixture.processor.index.register(summary, dependencies: [
            .entity(EntityRef(entity: "Order", id: "o-1"), version: nil),
            .key(CacheKeyRef(service: "user-service", key: "user:u-1:profile")),
        ])
        fixture.processor.index.register(CacheKeyRef(service: "order-service", key: "user:u-1:orders"), dependencies: [.key(summary)])
    }

    static func conflicts(_ result: ProcessingResult) throws -> [ConflictRecord] {
        try result.messages.filter { $0.topic == "cascade.conflicts" }.map { try ConflictRecord.decode($0.value ?? []) }
    }

    @Test("two origins within the window: one record, the same winner either way, resolves fencing both")
    func sameWinnerWhicheverComesFirst() throws {
        var winners: [String] = []
        for events in [[Self.order(), Self.user()], [Self.user(), Self.order()]] {
            let fixture = try PipelineFixture()
            Self.registerCycle(fixture)
            let first = fixture.process(events[0])
            #expect(first.cycleConflicts == 0)
            #expect(try Self.conflicts(first).isEmpty)

            let second = fixture.process(events[1])
            #expect(second.outcome == .invalidated, "each event still advances its own ledger entry")
            #expect(second.cycleConflicts == 1)
            let records = try Self.conflicts(second)
            try #require(records.count == 1, "one record for the pair, not one per shared key")
            let record = records[0]
            #expect(record.policy == "cycle-latest-at")
            #expect(record.entity == "User" && record.id == "u-1", "the record names the winner")
            #expect(second.messages.first { $0.topic == "cascade.conflicts" }?.keyString == "User#u-1")
            #expect(record.winner.origin == "user-service" && record.winner.entity == "User" && record.winner.version == 7)
            #expect(record.losers.map(\.origin) == ["order-service"])
            #expect(record.losers.first?.entity == "Order" && record.losers.first?.id == "o-1" && record.losers.first?.version == 4)
            #expect(record.reason.contains("Order#o-1") && record.reason.contains("User#u-1") && record.reason.contains("1000 ms"))
            winners.append(record.winner.origin)

            let messages = try PipelineFixture.invalidations(second)
            let resolves = messages.mapValues { $0.filter { $0.kind == .resolve } }.filter { !$0.value.isEmpty }
            #expect(Set(resolves.keys) == ["order-service", "user-service"], "the services owning the shared keys")
            #expect(Set(resolves["order-service"]?.flatMap { $0.keys.map(\.key) } ?? []) == ["order:o-1:summary", "user:u-1:orders"])
            #expect(resolves["user-service"]?.flatMap { $0.keys.map(\.key) } == ["user:u-1:profile"], "session:u-1 is built on the cycle, not in it")
            for message in resolves.values.flatMap({ $0 }) {
                #expect(message.cause.entity == "User" && message.cause.id == "u-1" && message.cause.version == 7)
                #expect(message.fences == [.init(ref: "User#u-1", version: 7), .init(ref: "Order#o-1", version: 4)])
                #expect(message.tags.isEmpty, "only the shared keys, not everything under the winner")
            }
            // The event's own cascade is sent as before.
            #expect(messages.values.flatMap { $0 }.contains { $0.kind == .invalidate })
        }
        #expect(winners == ["user-service", "user-service"], "latest `at` wins, whatever arrives first")
    }

    @Test("without registrations the bound keys still meet in the cycle at user-profile")
    func boundKeysOnly() throws {
        let fixture = try PipelineFixture()
        _ = fixture.process(Self.order())
        let result = fixture.process(Self.user())
        let record = try #require(try Self.conflicts(result).first)
        #expect(record.reason.hasSuffix("both reach user-service/user:u-1:profile in a cycle"))
        let resolves = try PipelineFixture.invalidations(result).mapValues { $0.filter { $0.kind == .resolve } }.filter { !$0.value.isEmpty }
        #expect(Set(resolves.keys) == ["user-service"])
    }

    @Test("`at` times further apart than the window: no conflict")
    func outsideTheWindow() throws {
        let fixture = try PipelineFixture()
        Self.registerCycle(fixture)
        _ = fixture.process(Self.order())
        let result = fixture.process(Self.user(at: "2026-11-25T16:00:01.500Z"))
        #expect(result.cycleConflicts == 0)
        #expect(try Self.conflicts(result).isEmpty)
        #expect(try PipelineFixture.invalidations(result).values.flatMap { $0 }.allSatisfy { $0.kind == .invalidate })
    }

    @Test("the window is configurable: 1500 ms apart conflicts within 2000 ms, and 0 turns the check off")
    func configuredWindow() throws {
        let wide = try PipelineFixture(cycleConflictWindowMillis: 2000)
        _ = wide.process(Self.order())
        #expect(wide.process(Self.user(at: "2026-11-25T16:00:01.500Z")).cycleConflicts == 1)

        let off = try PipelineFixture(cycleConflictWindowMillis: 0)
        _ = off.process(Self.order())
        #expect(off.process(Self.user(at: "2026-11-25T16:00:00.000Z")).cycleConflicts == 0)
    }

    @Test("the same origin orders its own writes: no conflict")
    func sameOrigin() throws {
        let fixture = try PipelineFixture()
        Self.registerCycle(fixture)
        _ = fixture.process(Self.order())
        let result = fixture.process(Self.user(origin: "order-service"))
        #expect(result.cycleConflicts == 0)
        #expect(try Self.conflicts(result).isEmpty)
    }

    @Test("closures that share only keys outside the cycle: no conflict")
    func noSharedCircularKey() throws {
        let fixture = try PipelineFixture()
        // A key built on both instances, outside any cycle.
        fixture.processor.index.register(CacheKeyRef(service: "analytics-service", key: "mixed:o-2:u-1"), dependencies: [
            .entity(EntityRef(entity: "Order", id: "o-2"), version: nil), .entity(EntityRef(entity: "User", id: "u-1"), version: nil),
        ])
        _ = fixture.process(Self.order(id: "o-2", userId: "u-2"))
        let result = fixture.process(Self.user())
        #expect(try PipelineFixture.invalidations(result)["analytics-service"]?.first?.keys.map(\.key) == ["mixed:o-2:u-1"])
        #expect(result.cycleConflicts == 0)
        #expect(try Self.conflicts(result).isEmpty)
    }

    @Test("events without an `at` time are never concurrent")
    func withoutTimes() throws {
        let fixture = try PipelineFixture()
        Self.registerCycle(fixture)
        _ = fixture.process(Self.order(at: nil))
        #expect(fixture.process(Self.user(at: nil)).cycleConflicts == 0)
    }

    @Test("touches are remembered for one to two windows of the bus's clock, then forgotten")
    func forgottenAfterTwoWindows() throws {
        let kept = try PipelineFixture()
        Self.registerCycle(kept)
        _ = kept.process(Self.order(), nowMillis: 1000)
        #expect(kept.process(Self.user(), nowMillis: 2999).cycleConflicts == 1)

        let forgotten = try PipelineFixture()
        Self.registerCycle(forgotten)
        _ = forgotten.process(Self.order(), nowMillis: 1000)
        #expect(forgotten.process(Self.user(), nowMillis: 3000).cycleConflicts == 0)
    }

    @Test("a third writer conflicts with the last event that reached the key, once")
    func eachPairOnce() throws {
        let fixture = try PipelineFixture()
        Self.registerCycle(fixture)
        _ = fixture.process(Self.order())
        #expect(fixture.process(Self.user()).cycleConflicts == 1)
        // A redelivery of the user event is a duplicate, not a new pair.
        let again = fixture.process(Self.user())
        #expect(again.outcome == .duplicate && again.cycleConflicts == 0)
        let third = fixture.process(PipelineFixture.event(
            "Order", "o-1", version: 5, origin: "backfill", at: "2026-11-25T16:00:00.600Z", attrs: ["userId": "u-1"]))
        #expect(third.cycleConflicts == 1)
        let record = try #require(try Self.conflicts(third).first)
        #expect(Set([record.winner.origin] + record.losers.map(\.origin)) == ["backfill", "user-service"])
    }
}
