import CascadeGraph
import CascadeWire
import Testing

/// A cascade across shares takes time: a key the root invalidated early can be stored again
/// before a hop reaches one of its dependencies. That hop names the key among those to skip
/// (the root reached it already), yet its new value may have been computed from the hop's key
/// before it went.
@Suite struct HopRestoredKeysTests {
    let a = CacheKeyRef(service: "catalog", key: "a:p-1")
    let b = CacheKeyRef(service: "storefront", key: "b:p-1")

    /// One share holding every partition, `a` registered on `b` with its value stored at 5,000.
    func share() -> IndexShare {
        let partitioner = StatePartitioner(count: 4)
        let share = IndexShare(index: InstanceIndex(graph: nil), partitioner: partitioner, holding: [0, 1, 2, 3])
        let partition = partitioner.partition(of: b.description)
        _ = share.apply(EdgeRecord(key: a, partition: partition, dependencies: [.key(b)], setAtMillis: 5_000))
        // What the landing check notes as the record lands.
        _ = share.newest.isSuperseded(a.description, setAtMillis: 5_000, nowMillis: 5_020)
        return share
    }

    func hop(eventAtMillis: Int64) -> StateHop {
        var hop = StateHop(
            root: "Product#p-1@2 e-1", name: b.description, partition: 0, fence: EntityRef(entity: "Product", id: "p-1"),
            fenceVersion: 2, depth: 1, path: ["Product#p-1", a.description, b.description], skip: [StableNameHash.of(a.description)])
        hop.atMillis = eventAtMillis
        return hop
    }

    @Test("stored again after the root event: the hop lists it again")
    func storedAfterTheEventGoesAgain() throws {
        let closure = try #require(share().closure(of: hop(eventAtMillis: 4_000))).closure
        #expect(closure.entries.map(\.name) == [a.description])
    }

    @Test("stored before the root event: the root's first invalidation took it, the hop skips it")
    func storedBeforeTheEventIsSkipped() throws {
        let closure = try #require(share().closure(of: hop(eventAtMillis: 6_000))).closure
        #expect(closure.entries.isEmpty)
    }
}
