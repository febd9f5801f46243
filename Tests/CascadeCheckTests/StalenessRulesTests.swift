import CascadeCheck
import CascadeClient
import CascadeWire
import Testing

@Suite struct StalenessRulesTests {
    func ledger(_ ref: String, version: UInt64, at: Int64 = 1_000) -> [String: LedgerRecord] {
        let parsed = EntityRef(parsing: ref) ?? EntityRef(entity: "X", id: "1")
        return [ref: LedgerRecord(entity: parsed.entity, id: parsed.id, version: version, origin: "o", atMillis: at, eventID: "e", digest: 0)]
    }

    func key(_ name: String, setAt: Int64? = 500, _ dependencies: KeyMeta.Dependency...) -> KeyMeta {
        KeyMeta(key: name, setAtMillis: setAt, dependencies: dependencies)
    }

    @Test func aVersionOlderThanTheLedgerIsStale() {
        let meta = key("k", .init(dep: "X#1@1", tag: "X#1", version: 1))
        #expect(StalenessRules.reasons(for: meta, service: "s", ledger: ledger("X#1", version: 2), keyFences: [:])
            == [.newerVersion(dependency: "X#1@1", registered: 1, ledger: 2)])
    }

    @Test func theLedgersOwnVersionOrAnUnknownInstanceIsFresh() {
        let meta = key("k", .init(dep: "X#1@2", tag: "X#1", version: 2), .init(dep: "Y#9@1", tag: "Y#9", version: 1))
        #expect(StalenessRules.reasons(for: meta, service: "s", ledger: ledger("X#1", version: 2), keyFences: [:]).isEmpty)
    }

    @Test func anUnversionedDependencyChangedAfterTheSetWithoutAFenceIsStale() {
        let meta = key("k", setAt: 500, .init(dep: "X#1", tag: "X#1"))
        let reasons = StalenessRules.reasons(for: meta, service: "s", ledger: ledger("X#1", version: 3, at: 900), keyFences: [:])
        #expect(reasons == [.changedAfterSet(dependency: "X#1", ledgerVersion: 3, changedAtMillis: 900, setAtMillis: 500, fence: nil)])
        #expect(reasons[0].description == "X#1 changed (version 3) 400 ms after the key was set and the node has no fence for it")
    }

    @Test func aFenceAtTheLedgerVersionMeansTheInvalidationWasApplied() {
        let fenced = key("k", setAt: 500, .init(dep: "X#1", tag: "X#1", fence: 3))
        #expect(StalenessRules.reasons(for: fenced, service: "s", ledger: ledger("X#1", version: 3, at: 900), keyFences: [:]).isEmpty)
        let setAfter = key("k", setAt: 950, .init(dep: "X#1", tag: "X#1"))
        #expect(StalenessRules.reasons(for: setAfter, service: "s", ledger: ledger("X#1", version: 3, at: 900), keyFences: [:]).isEmpty)
        let lowFence = key("k", setAt: 500, .init(dep: "X#1", tag: "X#1", fence: 2))
        #expect(StalenessRules.reasons(for: lowFence, service: "s", ledger: ledger("X#1", version: 3, at: 900), keyFences: [:]).count == 1)
    }

    @Test func aKeyDependencyInvalidatedAfterTheSetIsStaleAndStalenessSpreadsToDependents() {
        let services = [
            ServiceKeys(service: "a", keys: [key("base", setAt: 100, .init(dep: "X#1@1", tag: "X#1", version: 1))]),
            ServiceKeys(service: "b", keys: [
                key("mid", setAt: 200, .init(dep: "a/base", tag: "a/base")),
                key("top", setAt: 300, .init(dep: "mid", tag: "b/mid")),
                key("gone-dep", setAt: 300, .init(dep: "a/old", tag: "a/old")),
                key("plain", setAt: nil),
            ]),
        ]
        #expect(StalenessRules.entityRefs(in: services) == ["X#1"])
        #expect(StalenessRules.unseenKeyDependencies(in: services) == ["a": ["old"]])
        let stale = StalenessRules.audit(
            services, ledger: ledger("X#1", version: 2), extraKeyFences: ["a/old": .init(atMillis: 400, cause: "X#7@3")])
        #expect(stale.map { "\($0.service)/\($0.name)" } == ["a/base", "b/gone-dep", "b/mid", "b/top"])
        #expect(stale[1].reasons == [.dependencyInvalidated(dependency: "a/old", invalidatedAtMillis: 400, setAtMillis: 300)])
        #expect(stale[2].reasons == [.dependsOnStale(dependency: "a/base")])
        #expect(stale[3].reasons == [.dependsOnStale(dependency: "b/mid")])
    }

    @Test func aCycleOfKeysEndsAndEveryKeyOnItIsStale() {
        let services = [ServiceKeys(service: "s", keys: [
            key("p", .init(dep: "q", tag: "s/q"), .init(dep: "X#1@1", tag: "X#1", version: 1)),
            key("q", .init(dep: "p", tag: "s/p")),
        ])]
        let stale = StalenessRules.audit(services, ledger: ledger("X#1", version: 5))
        #expect(Set(stale.map(\.name)) == ["p", "q"])
    }
}
