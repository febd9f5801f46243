import CascadeGraph
import CascadeWire
import Testing

/// What the router puts in a key's records when the key's edges are kept rather than replaced
/// (others depend on it, its value is gone, or a replica holds it too).
@Suite struct EdgeRouterTests {
    let key = CacheKeyRef(service: "catalog", key: "product:p-1")

    func dependencies(_ texts: String...) throws -> [Dependency] {
        try texts.map { try Dependency.parse($0, service: "catalog") }
    }

    func landed(_ records: [EdgeRecord], on tag: String) -> [String] {
        records.filter { $0.dependencies.contains { $0.tag == tag } }.flatMap { $0.dependencies.map(\.description) }
    }

    @Test("a key others depend on, stored again at a newer version: its record carries the new version")
    func keptEdgesTakeTheNewVersion() throws {
        var router = EdgeRouter(partitioner: StatePartitioner(count: 8))
        _ = router.register(key, dependencies: try dependencies("Product#p-1@1"), owner: nil, hasDependents: true, setAtMillis: 1_000)
        let records = router.register(key, dependencies: try dependencies("Product#p-1@2"), owner: nil, hasDependents: true, setAtMillis: 2_000)
        #expect(landed(records, on: "Product#p-1") == ["Product#p-1@2"])
    }

    @Test("a retired key stored again, and a replica's registration: the newest version, the other edges kept")
    func retiredAndReplicas() throws {
        var router = EdgeRouter(partitioner: StatePartitioner(count: 8))
        let first = RegistrationOwner(node: "catalog-a", incarnation: 1)
        _ = router.register(key, dependencies: try dependencies("Product#p-1@1", "Product#p-2"), owner: first, hasDependents: true, setAtMillis: 1_000)
        _ = router.unregister(key, owner: first, hasDependents: true)
        let again = router.register(key, dependencies: try dependencies("Product#p-1@3"), owner: first, hasDependents: true, setAtMillis: 3_000)
        #expect(landed(again, on: "Product#p-1") == ["Product#p-1@3"])
        #expect(landed(again, on: "Product#p-2").contains("Product#p-2"), "the retired value's other edge stays")
        let replica = RegistrationOwner(node: "catalog-b", incarnation: 1)
        let records = router.register(key, dependencies: try dependencies("Product#p-1@4"), owner: replica, hasDependents: true, setAtMillis: 4_000)
        #expect(landed(records, on: "Product#p-1") == ["Product#p-1@4"])
    }

    @Test("a key whose value went with no dependent left comes back, as of its new dependent's time, when one registers on it")
    func goneKeyRevivedByANewDependent() throws {
        var router = EdgeRouter(partitioner: StatePartitioner(count: 8))
        let node = RegistrationOwner(node: "catalog-a", incarnation: 1)
        _ = router.register(key, dependencies: try dependencies("Product#p-1@53"), owner: node, hasDependents: false, setAtMillis: 1_000)
        let dropped = router.unregister(key, owner: node, hasDependents: false)
        #expect(!dropped.isEmpty && dropped.allSatisfy { $0.dependencies.isEmpty }, "its edges go")
        // A page computed meanwhile registers on the key: the key's edges come back, judged as of the page.
        let revived = router.revive(key, asOf: 5_000)
        #expect(landed(revived, on: "Product#p-1") == ["Product#p-1@53"])
        #expect(revived.allSatisfy { $0.setAtMillis == 5_000 })
        let again = router.revive(key, asOf: 6_000)
        #expect(again.isEmpty, "once: it is retired now, and goes with its last dependent")
        let lastGone = router.lastDependentGone(key)
        #expect(!lastGone.isEmpty && lastGone.allSatisfy { $0.dependencies.isEmpty })
        // Stored again, it is no longer remembered as gone.
        _ = router.register(key, dependencies: try dependencies("Product#p-1@54"), owner: node, hasDependents: false, setAtMillis: 7_000)
        let afterStored = router.revive(key, asOf: 8_000)
        #expect(afterStored.isEmpty)
    }

    @Test("a key never stored, depended on: nothing to revive")
    func neverStoredKeyIsNotRevived() {
        var router = EdgeRouter(partitioner: StatePartitioner(count: 8))
        let revived = router.revive(key, asOf: 1_000)
        #expect(revived.isEmpty)
    }
}
