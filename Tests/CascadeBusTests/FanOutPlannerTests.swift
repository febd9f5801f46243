@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Testing

/// The planner sorts a closure's keys into one message per service, in service-name order,
/// whether or not the graph knows the service.
@Suite("Fan-out planning: keys by service, split, tagged once")
struct FanOutPlannerTests {
    let topics = Topics(prefix: "t.")
    let cause = InvalidationMessage.Cause(eventID: "e-1", entity: "Product", id: "1", version: 7, atMillis: 5)

    /// A closure of `Product#1` reaching `keys` (`service/key`), all registered directly on it.
    func closure(_ keys: [String]) -> InstanceClosure {
        let index = InstanceIndex()
        for name in keys {
            let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
            _ = index.register(Registration(service: parts[0], key: parts[1], deps: ["Product#1"], setAtMillis: 0))
        }
        return index.closure(of: EntityRef(entity: "Product", id: "1"))
    }

    func decoded(_ plan: FanOutPlanner.Plan) throws -> [(service: String, message: InvalidationMessage)] {
        try plan.messages.map { (try #require($0.service), try InvalidationMessage.decode(try #require($0.value))) }
    }

    @Test func keysGoToTheirServicesInNameOrderWithServicesOutsideTheGraphSortedIn() throws {
        let planner = FanOutPlanner(topics: topics, maxKeysPerMessage: 100, services: ["orders", "catalog"])
        let closure = closure(["orders/o:1", "catalog/p:1", "zeta/z:1", "orders/o:2", "audit/a:1"])
        let plan = planner.plan(
            kind: .invalidate, cause: cause, rootTag: "Product#1", closure: closure, tagOnly: ["search"],
            fences: [.init(ref: "Product#1", version: 7)])
        let messages = try decoded(plan)
        #expect(messages.map(\.service) == ["audit", "catalog", "orders", "search", "zeta"])
        #expect(plan.messages.map(\.topic) == ["audit", "catalog", "orders", "search", "zeta"].map { topics.invalidations(service: $0) })
        #expect(plan.fanOut.map(\.service) == ["audit", "catalog", "orders", "search", "zeta"])
        #expect(plan.fanOut.map(\.keys) == [1, 1, 2, 0, 1])
        #expect(messages[2].message.keys.map(\.key).sorted() == ["o:1", "o:2"])
        #expect(messages[3].message.keys.isEmpty)
        for (_, message) in messages {
            #expect(message.tags == ["Product#1"])
            #expect(message.fences == [.init(ref: "Product#1", version: 7)])
            #expect(message.cause == cause)
        }
        #expect(plan.messages.allSatisfy { $0.key == Array("Product#1".utf8) })
        // Written by hand, byte for byte what the JSON encoder writes.
        for (message, (_, decoded)) in zip(plan.messages, messages) { #expect(message.value == decoded.encoded()) }
    }

    @Test func aBigFanOutIsSplitAndOnlyItsFirstPartCarriesTheTag() throws {
        let planner = FanOutPlanner(topics: topics, maxKeysPerMessage: 2, services: ["orders"])
        let names = (1...5).map { "orders/o:\($0)" }
        let plan = planner.plan(
            kind: .invalidate, cause: cause, rootTag: "Product#1", closure: closure(names), tagOnly: [], fences: [])
        let messages = try decoded(plan)
        #expect(messages.map { $0.message.keys.count } == [2, 2, 1])
        #expect(messages.map(\.message.tags) == [["Product#1"], [], []])
        #expect(Set(messages.flatMap { $0.message.keys.map(\.key) }) == Set((1...5).map { "o:\($0)" }))
        #expect(plan.fanOut.map(\.keys) == [5])
    }

    @Test func aRootKeyLeadsItsServiceAtDepthZeroAndPositionsPickKeys() throws {
        let planner = FanOutPlanner(topics: topics, maxKeysPerMessage: 100, services: ["orders", "catalog"])
        let closure = closure(["orders/o:1", "catalog/p:1", "orders/o:2"])
        let second = try #require(closure.entries.firstIndex { $0.name == "orders/o:2" })
        let plan = planner.plan(
            kind: .resolve, cause: cause, rootTag: "Product#1", closure: closure, positions: [second],
            rootKey: CacheKeyRef(service: "orders", key: "o:root"), tagOnly: [], fences: [], includeRootTag: false)
        let messages = try decoded(plan)
        #expect(messages.map(\.service) == ["orders"])
        #expect(messages[0].message.keys == [.init(key: "o:root", depth: 0), .init(key: "o:2", depth: 1)])
        #expect(messages[0].message.tags.isEmpty)
        #expect(messages[0].message.kind == .resolve)
    }
}
