import CascadeGraph
import CascadeWire
import Testing

/// Registrations and tombstones of one key reach the bus in any order; the tombstone of an old
/// value must never erase the registration of a newer one (issue 10's first cause of lost keys).
@Suite("Registration ownership: tombstones end only what they name")
struct RegistrationOwnershipTests {
    let key = CacheKeyRef(service: "order-service", key: "order:9:summary")
    let product = Dependency.entity(EntityRef(entity: "Product", id: "p-1"), version: nil)
    let user = Dependency.entity(EntityRef(entity: "User", id: "u-1"), version: nil)

    func reaches(_ index: InstanceIndex, _ entity: String, _ id: String) -> Bool {
        index.closure(of: EntityRef(entity: entity, id: id)).entries.contains { $0.name == "order-service/order:9:summary" }
    }

    @Test("the old value's tombstone arriving after the new value's registration keeps the new one")
    func oldTombstoneAfterNewRegistration() {
        let index = InstanceIndex()
        index.register(key, dependencies: [product], owner: RegistrationOwner(node: "n1", incarnation: 5))
        // The value was invalidated and set again: its registration (7) overtakes the tombstone (5).
        index.register(key, dependencies: [product], owner: RegistrationOwner(node: "n1", incarnation: 7))
        #expect(!index.unregister(key, owner: RegistrationOwner(node: "n1", incarnation: 5)))
        #expect(reaches(index, "Product", "p-1"))
        #expect(index.unregister(key, owner: RegistrationOwner(node: "n1", incarnation: 7)))
        #expect(!reaches(index, "Product", "p-1"))
    }

    @Test("an older registration arriving late does not replace a newer one")
    func olderRegistrationIgnored() {
        let index = InstanceIndex()
        index.apply([
            .register(key, dependencies: [user], owner: RegistrationOwner(node: "n1", incarnation: 9)),
            .register(key, dependencies: [product], owner: RegistrationOwner(node: "n1", incarnation: 8)),
        ])
        #expect(reaches(index, "User", "u-1"))
        #expect(!reaches(index, "Product", "p-1"))
    }

    @Test("replicas: one node's tombstone leaves the key registered for the other")
    func replicas() {
        let index = InstanceIndex()
        index.register(key, dependencies: [product], owner: RegistrationOwner(node: "a", incarnation: 3))
        index.register(key, dependencies: [user], owner: RegistrationOwner(node: "b", incarnation: 1))
        // Both replicas' dependencies count while both hold the key.
        #expect(reaches(index, "Product", "p-1") && reaches(index, "User", "u-1"))
        #expect(index.unregister(key, owner: RegistrationOwner(node: "b", incarnation: 1)))
        #expect(reaches(index, "Product", "p-1"), "replica a still holds it")
        #expect(index.unregister(key, owner: RegistrationOwner(node: "a", incarnation: 3)))
        #expect(!reaches(index, "Product", "p-1") && !reaches(index, "User", "u-1"))
        #expect(index.statistics.registeredKeys == 0)
    }

    @Test("a tombstone from a node that never registered the key changes nothing; one without an owner ends it")
    func strangersAndHandWrittenTombstones() {
        let index = InstanceIndex()
        index.register(key, dependencies: [product], owner: RegistrationOwner(node: "a", incarnation: 3))
        #expect(!index.unregister(key, owner: RegistrationOwner(node: "z", incarnation: 99)))
        #expect(reaches(index, "Product", "p-1"))
        #expect(index.unregister(key))
        #expect(!reaches(index, "Product", "p-1"))
    }

    @Test("a value gone from its node still links what was computed from it to what it was computed from")
    func retiredKeyKeepsItsEdgesForItsDependents() {
        let index = InstanceIndex()
        let page = CacheKeyRef(service: "storefront", key: "page:1")
        index.register(key, dependencies: [product], owner: RegistrationOwner(node: "a", incarnation: 1))
        index.register(page, dependencies: [.key(key)], owner: RegistrationOwner(node: "b", incarnation: 1))
        // The summary expires on its node; the page computed from it is still cached.
        #expect(index.unregister(key, owner: RegistrationOwner(node: "a", incarnation: 1)))
        let reached = index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.map(\.name)
        #expect(reached.contains("storefront/page:1"), "a Product change must still reach the page: \(reached)")
        // Set again from other data: what the page embeds still counts.
        index.register(key, dependencies: [user], owner: RegistrationOwner(node: "a", incarnation: 2))
        #expect(index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.contains { $0.name == "storefront/page:1" })
        #expect(index.closure(of: EntityRef(entity: "User", id: "u-1")).entries.contains { $0.name == "storefront/page:1" })
        // Once both are gone, nothing is left.
        #expect(index.unregister(key, owner: RegistrationOwner(node: "a", incarnation: 2)))
        #expect(index.unregister(page, owner: RegistrationOwner(node: "b", incarnation: 1)))
        #expect(index.closure(of: EntityRef(entity: "Product", id: "p-1")).entries.isEmpty)
        #expect(index.statistics.registeredKeys == 0 && index.statistics.edges == 0 && index.statistics.names == 0)
    }

    @Test("any arrival order of one node's registrations and tombstones keeps the live value registered", arguments: 0..<300)
    func randomInterleavings(seed: Int) {
        // Values 1...6 of one key, each registered and (but the newest) tombstoned, arriving in
        // any order. The newest value is alive: its key must stay reachable whatever the order.
        // (A gone value may stay registered when its tombstone overtook its registration: an
        // extra invalidation later, never a missed one.)
        var generator = SplitMix64(seed: UInt64(seed + 1))
        var changes: [InstanceIndex.Change] = []
        for incarnation in UInt64(1)...6 {
            let owner = RegistrationOwner(node: "n", incarnation: incarnation)
            changes.append(.register(key, dependencies: [product], owner: owner))
            if incarnation < 6 { changes.append(.unregister(key, owner: owner)) }
        }
        changes.shuffle(using: &generator)
        let index = InstanceIndex()
        index.apply(changes)
        #expect(reaches(index, "Product", "p-1"), "order: \(changes)")
    }

    @Test("in publication order, the last tombstone ends the key")
    func publicationOrder() {
        let index = InstanceIndex()
        for incarnation in UInt64(1)...6 {
            let owner = RegistrationOwner(node: "n", incarnation: incarnation)
            index.apply([.register(key, dependencies: [product], owner: owner), .unregister(key, owner: owner)])
        }
        #expect(!reaches(index, "Product", "p-1"))
        #expect(index.statistics.registeredKeys == 0)
    }
}
