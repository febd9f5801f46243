@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Hummingbird
import Testing

/// A registration reaches the bus after its value was stored, sometimes after the cascade that
/// made the value stale. These replay the follower's order (index first, then the check) on the
/// pipeline core, with the fixture's clock in ms.
@Suite("The registration race check, for entity and cache-key dependencies at any depth")
struct RegistrationRaceTests {
    let fixture: PipelineFixture
    let check: RegistrationRaceCheck

    init(startMillis: Int64 = 0, goneKeyGraceMillis: Int64 = 0) throws {
        fixture = try PipelineFixture(startMillis: startMillis, goneKeyGraceMillis: goneKeyGraceMillis)
        let processor = fixture.processor
        check = RegistrationRaceCheck(
            ledger: processor.ledger, index: processor.index, planner: processor.planner,
            recent: processor.recentInvalidations, windowMillis: 2000)
    }

    /// Registers like the follower, then checks; the keys the check invalidates, by service.
    func arrive(_ service: String, _ key: String, deps: [String], setAt: Int64, now: Int64) throws -> [String: Set<String>] {
        let registration = Registration(service: service, key: key, deps: deps, setAtMillis: setAt)
        fixture.processor.index.register(registration)
        var dropped: [String: Set<String>] = [:]
        for message in check.check(registration, nowMillis: now) {
            let service = String(message.topic.dropFirst("cascade.inval.".count))
            for target in try InvalidationMessage.decode(message.value ?? []).keys { dropped[service, default: []].insert(target.key) }
        }
        return dropped
    }

    @Test("a value computed from a key invalidated just before it was stored is dropped, then the chain above it")
    func lateChainOfKeyDependencies() throws {
        #expect(try arrive("product-service", "a", deps: ["Product#p-1"], setAt: 900, now: 950).isEmpty)
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
        // b read a before the invalidation reached its node, and registered after the cascade.
        #expect(try arrive("order-service", "b", deps: ["product-service/a"], setAt: 10_020, now: 10_040) == ["order-service": ["b"]])
        // c read b in the meantime: the check's own invalidation of b counts too.
        #expect(try arrive("user-service", "c", deps: ["order-service/b"], setAt: 10_030, now: 10_060) == ["user-service": ["c"]])
    }

    @Test("a key invalidated well before the value was stored is no reason")
    func freshAfterTheWindow() throws {
        #expect(try arrive("product-service", "a", deps: ["Product#p-1"], setAt: 900, now: 950).isEmpty)
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
        #expect(try arrive("order-service", "b", deps: ["product-service/a"], setAt: 12_500, now: 12_510).isEmpty)
        #expect(try arrive("order-service", "never-invalidated", deps: ["product-service/zz"], setAt: 10_100, now: 10_110).isEmpty)
    }

    @Test("a key whose nodes applied its drop late: a value computed from it up to that much later is dropped too")
    func nodesThatAppliedLate() throws {
        var lagging = check
        lagging.applyDelayMillis = { service in service == "product-service" ? 3000 : 0 }
        #expect(try arrive("product-service", "a", deps: ["Product#p-1"], setAt: 900, now: 950).isEmpty)
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
        // Read from product-service's node 2.5 s after the bus sent the drop: the node, 3 s
        // behind, still had the old value.
        let late = Registration(service: "order-service", key: "b", deps: ["product-service/a"], setAtMillis: 14_500)
        fixture.processor.index.register(late)
        #expect(check.check(late, nowMillis: 14_510).isEmpty, "judged by the bus's own time only, it looks fresh")
        #expect(!lagging.check(late, nowMillis: 14_510).isEmpty, "with the nodes' delay, it is stale")
        let later = Registration(service: "order-service", key: "c", deps: ["product-service/a"], setAtMillis: 15_100)
        fixture.processor.index.register(later)
        #expect(lagging.check(later, nowMillis: 15_110).isEmpty, "past window and delay, fresh")
    }

    @Test("the apply delay is the longest a service's nodes reported in the last 10 s")
    func applyDelayFromReports() {
        let nodes = NodeDirectory()
        func report(_ node: String, delay: Int64?, at: Int64) -> NodeReport {
            NodeReport(
                service: "catalog", node: node, address: "127.0.0.1:1", applied: [:], stalenessMillis: 9_999, lag: 0, degraded: false,
                atMillis: at, applyDelayMillis: delay)
        }
        #expect(nodes.applyDelayMillis(service: "catalog", nowMillis: 0) == 0)
        nodes.merge(report("n1", delay: 200, at: 1_000))
        nodes.merge(report("n2", delay: 3_000, at: 1_500))
        nodes.merge(report("n1", delay: nil, at: 2_000))
        #expect(nodes.applyDelayMillis(service: "catalog", nowMillis: 2_000) == 3_000)
        #expect(nodes.applyDelayMillis(service: "storefront", nowMillis: 2_000) == 0)
        nodes.merge(report("n1", delay: 100, at: 12_000))
        #expect(nodes.applyDelayMillis(service: "catalog", nowMillis: 12_000) == 100, "the 3 s peak is older than 10 s")
        #expect(nodes.applyDelayMillis(service: "catalog", nowMillis: 30_000) == 0, "nodes that stopped reporting hold nothing back")
    }

    @Test("a registration older than the bus's memory cannot be shown fresh: dropped")
    func olderThanTheMemory() throws {
        let late = try RegistrationRaceTests(startMillis: 60_000)
        #expect(try late.arrive("order-service", "b", deps: ["product-service/a"], setAt: 30_000, now: 61_000) == ["order-service": ["b"]])
        #expect(try late.arrive("order-service", "b2", deps: ["product-service/a"], setAt: 70_000, now: 70_010).isEmpty)
    }

    @Test("entity dependencies: a newer version, or a change inside the window without one")
    func entityDependencies() throws {
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 5), nowMillis: 10_000)
        #expect(try arrive("product-service", "v4", deps: ["Product#p-1@4"], setAt: 20_000, now: 20_010) == ["product-service": ["v4"]])
        #expect(try arrive("product-service", "v5", deps: ["Product#p-1@5"], setAt: 10_001, now: 10_010).isEmpty)
        #expect(try arrive("product-service", "bare", deps: ["Product#p-1"], setAt: 10_500, now: 10_510) == ["product-service": ["bare"]])
        #expect(try arrive("product-service", "later", deps: ["Product#p-1"], setAt: 13_000, now: 13_010).isEmpty)
    }

    /// The stale pages of partitioned chaos (docs/bus.md, "Records nobody judged"): the product
    /// key's value went while nothing depended on it, the product changed, and a page computed
    /// from the product before registered on the key after.
    @Test("a key whose value went with no dependent keeps its edges for its grace: a value computed from it before, registered after a change, is dropped")
    func goneKeyKeepsItsEdgesForItsGrace() throws {
        for grace: Int64 in [0, 30_000] {
            let race = try RegistrationRaceTests(goneKeyGraceMillis: grace)
            let index = race.fixture.processor.index
            #expect(try race.arrive("product-service", "a", deps: ["Product#p-1"], setAt: 900, now: 950).isEmpty)
            index.unregister(CacheKeyRef(service: "product-service", key: "a"), wentAtMillis: 9_000, nowMillis: 9_000)
            _ = race.fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
            let dropped = try race.arrive("order-service", "b", deps: ["product-service/a"], setAt: 10_020, now: 10_040)
            if grace == 0 {
                #expect(dropped.isEmpty, "without the grace the change passes the bare key by: the gap")
            } else {
                #expect(dropped == ["order-service": ["b"]])
                #expect(index.endGraces(nowMillis: 38_999) == 0, "b registered on it: it stays, with its edge")
                #expect(index.endGraces(nowMillis: 39_000) == 0)
                #expect(index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.map(\.name).contains("order-service/b"))
            }
        }
    }

    @Test("a gone key's grace ends: its edges go, with the key; a tombstone older than the grace ends them at once")
    func graceEnds() throws {
        let index = try PipelineFixture(goneKeyGraceMillis: 30_000).processor.index
        let a = CacheKeyRef(service: "product-service", key: "a")
        let old = CacheKeyRef(service: "product-service", key: "old")
        index.register(a, dependencies: [try Dependency.parse("Product#p-1", service: "product-service")])
        index.register(old, dependencies: [try Dependency.parse("Product#p-1", service: "product-service")])
        index.unregister(a, wentAtMillis: 9_000, nowMillis: 9_000)
        index.unregister(old, wentAtMillis: 1_000, nowMillis: 40_000)
        let reached = index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.map(\.name)
        #expect(reached.contains("product-service/a"), "in its grace")
        #expect(!reached.contains("product-service/old"), "gone long ago")
        #expect(index.gracedKeys == 1)
        #expect(index.endGraces(nowMillis: 38_999) == 0)
        #expect(index.endGraces(nowMillis: 39_000) == 1)
        #expect(index.gracedKeys == 0)
        #expect(index.registeredKeys == 0)
        #expect(!index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.map(\.name).contains("product-service/a"))
    }

    @Test("a key in the closure of an event is remembered before any registration can follow the closure")
    func closureKeysAreRemembered() throws {
        _ = try arrive("order-service", "order:o-1:summary", deps: ["Product#p-3"], setAt: 100, now: 100)
        _ = fixture.process(PipelineFixture.event("Product", "p-3", version: 2), nowMillis: 5_000)
        let recent = fixture.processor.recentInvalidations
        #expect(recent.lastInvalidated(RecentInvalidations.hash("order-service/order:o-1:summary")) == 5_000)
        #expect(recent.lastInvalidated(RecentInvalidations.hash("product-service/product:p-3")) == 5_000, "bound keys too")
        #expect(recent.lastInvalidated(RecentInvalidations.hash("order-service/order:o-2:summary")) == nil)
    }
}

@Suite("RecentInvalidations: two generations, bounded, with an honest coverage")
struct RecentInvalidationsTests {
    @Test func remembersForAtLeastOneRetentionThenForgetsAndSaysSo() {
        let recent = RecentInvalidations(retentionMillis: 1000, capacity: 100, startMillis: 0)
        recent.record([1, 2], atMillis: 100)
        recent.record([3], atMillis: 1_200)
        #expect(recent.lastInvalidated(1) == 100 && recent.lastInvalidated(3) == 1_200)
        #expect(recent.coverageStartMillis == 0)
        recent.record([4], atMillis: 2_300)
        #expect(recent.lastInvalidated(1) == nil, "dropped with its generation")
        #expect(recent.lastInvalidated(3) == 1_200)
        #expect(recent.coverageStartMillis == 1_200)
        recent.record([5], atMillis: 10_000)
        #expect(recent.lastInvalidated(3) == nil && recent.lastInvalidated(4) == nil)
        #expect(recent.coverageStartMillis == 9_000)
    }

    @Test func aFullGenerationRotatesEarlyAndMovesTheCoverage() {
        let recent = RecentInvalidations(retentionMillis: 60_000, capacity: 20, startMillis: 0)
        recent.record(0..<10, atMillis: 10)
        recent.record(10..<25, atMillis: 20)
        #expect(recent.coverageStartMillis > 0, "what was dropped is no longer covered")
        #expect(recent.lastInvalidated(24) == 20)
    }
}

@Suite("Bearer tokens on the admin API and the node's /metrics")
struct BearerTokenTests {
    @Test(arguments: [
        ("Bearer s3cret", true), ("bearer s3cret", true), ("BEARER  s3cret", true), ("Bearer s3cre", false),
        ("Bearer s3cret2", false), ("Basic s3cret", false), ("s3cret", false), ("Bearer", false),
    ])
    func schemeInAnyCaseTokenExactly(header: String, accepted: Bool) {
        #expect(BearerTokenMiddleware<BasicRequestContext>.matches(header, token: Array("s3cret".utf8)) == accepted)
    }
}

@Suite("Watermarks claim no more currency than the bus has")
struct WatermarkTrackerTests {
    @Test func currentAsOfAProbeOnceItsEndIsSentAndNotAfterAnOutage() {
        let tracker = WatermarkTracker(services: ["a", "b"])
        tracker.assigned(0, next: 10)
        tracker.probed(0, end: 12, atMillis: 1_000)
        #expect(tracker.watermark(0, through: 10).atMillis == 0, "offset 11 is not sent yet")
        #expect(tracker.watermark(0, through: 11).atMillis == 1_000)
        tracker.sent(0, through: 11, told: ["a"])
        #expect(tracker.due(all: false).map(\.service) == ["b"], "only the service not told")
        tracker.probeFailed(atMillis: 2_000)
        tracker.probed(0, end: 12, atMillis: 2_100)
        tracker.probed(0, end: 12, atMillis: 6_900)
        #expect(tracker.watermark(0, through: 11).atMillis == 1_000, "no end believed within 5 s of an outage")
        tracker.probed(0, end: 12, atMillis: 7_000)
        #expect(tracker.watermark(0, through: 11).atMillis == 7_000)
    }
}
