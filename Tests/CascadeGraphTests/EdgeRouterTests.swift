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

    @Test("a key whose value went with no dependent keeps its edges for its grace; one registered on meanwhile keeps them after")
    func goneKeysGrace() throws {
        var router = EdgeRouter(partitioner: StatePartitioner(count: 8), graceMillis: 30_000)
        let owner = RegistrationOwner(node: "catalog-a", incarnation: 1)
        _ = router.register(key, dependencies: try dependencies("Product#p-1@1"), owner: owner, hasDependents: false, setAtMillis: 1_000)
        #expect(router.unregister(key, owner: owner, hasDependents: false, wentAtMillis: 9_000, nowMillis: 9_000).isEmpty, "kept in its grace")
        #expect(router.lastDependentGone(key).isEmpty, "a dependent come and gone in the grace ends nothing")
        let settled: (Int32) -> Bool = { _ in true }
        #expect(router.endGraces(nowMillis: 38_999, isSettled: settled) { _ in false }.isEmpty)
        #expect(router.endGraces(nowMillis: 39_000, isSettled: { _ in false }) { _ in false }.isEmpty, "its partition not read whole yet: it waits")
        let ended = router.endGraces(nowMillis: 99_000, isSettled: settled) { _ in false }
        #expect(ended.map(\.key) == [key])
        #expect(ended.flatMap(\.records).allSatisfy { $0.dependencies.isEmpty } && !ended.flatMap(\.records).isEmpty, "tombstone records")
        #expect(router.count == 0)

        // Registered on during its grace: retired after it, until its last dependent goes.
        _ = router.register(key, dependencies: try dependencies("Product#p-1@2"), owner: owner, hasDependents: false, setAtMillis: 2_000)
        _ = router.unregister(key, owner: owner, hasDependents: false, wentAtMillis: 100_000, nowMillis: 100_000)
        #expect(router.endGraces(nowMillis: 130_000, isSettled: settled) { _ in true }.isEmpty)
        #expect(router.count == 1)
        #expect(!router.lastDependentGone(key).isEmpty)

        // A tombstone older than the grace when read (a rebuild) ends the edges at once.
        _ = router.register(key, dependencies: try dependencies("Product#p-1@3"), owner: owner, hasDependents: false, setAtMillis: 3_000)
        #expect(!router.unregister(key, owner: owner, hasDependents: false, wentAtMillis: 100_000, nowMillis: 200_000).isEmpty)
    }
}
