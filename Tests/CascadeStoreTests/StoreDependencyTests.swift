import CascadeStore
import CascadeWire
import Testing

private func deps(_ texts: String...) throws -> [Dependency] {
    try texts.map { try Dependency.parse($0, service: "svc") }
}

private func message(
    kind: InvalidationMessage.Kind = .invalidate, keys: [String] = [], tags: [String] = [],
    fences: [InvalidationMessage.Fence] = [], cause: (String, String, UInt64) = ("X", "1", 7)
) -> InvalidationMessage {
    InvalidationMessage(
        kind: kind,
        cause: .init(eventID: "e", entity: cause.0, id: cause.1, version: cause.2, atMillis: 0),
        keys: keys.map { .init(key: $0, depth: 1) }, tags: tags, fences: fences)
}

@Suite struct StoreDependencyTests {
    @Test func oneTagInvalidationRemovesExactlyTheKeysCarryingIt() throws {
        let store = CacheStore()
        for key in ["a", "b", "c"] { store.set(bytes(key), bytes("v"), dependencies: try deps("Product#p-17@3")) }
        store.set(bytes("d"), bytes("v"), dependencies: try deps("Product#p-18"))
        store.set(bytes("e"), bytes("v"))
        let result = store.apply(message(tags: ["Product#p-17"]))
        #expect(result.keysRemoved == 3)
        #expect(["a", "b", "c"].allSatisfy { store.get(bytes($0)) == nil })
        #expect(store.get(bytes("d")) == bytes("v"))
        #expect(store.get(bytes("e")) == bytes("v"))
        // Idempotent: applying it again removes nothing more.
        #expect(store.apply(message(tags: ["Product#p-17"])).keysRemoved == 0)
        #expect(Set(store.drainTombstones().map(\.key)) == ["a", "b", "c"])
    }

    @Test func theEventsOwnTagSparesValuesComputedFromItsVersionOrLater() throws {
        let store = CacheStore()
        store.set(bytes("at27"), bytes("v"), dependencies: try deps("Product#p-7@27"))
        store.set(bytes("at28"), bytes("v"), dependencies: try deps("Product#p-7@28"))
        store.set(bytes("at26"), bytes("v"), dependencies: try deps("Product#p-7@26"))
        store.set(bytes("bare"), bytes("v"), dependencies: try deps("Product#p-7"))
        store.set(bytes("other"), bytes("v"), dependencies: try deps("Product#p-7@30", "Order#o-1@1"))
        let result = store.apply(message(tags: ["Product#p-7"], cause: ("Product", "p-7", 27)))
        #expect(result.keysRemoved == 2)
        #expect(store.get(bytes("at26")) == nil && store.get(bytes("bare")) == nil)
        #expect(["at27", "at28", "other"].allSatisfy { store.get(bytes($0)) == bytes("v") }, "current values stay")
        // A later change still reaches the spared ones through the same tag.
        #expect(store.apply(message(tags: ["Product#p-7"], cause: ("Product", "p-7", 29))).keysRemoved == 2)
        #expect(store.get(bytes("other")) == bytes("v"))
        // A tag other than the event's own entity, or a conflict's resolution, spares nothing.
        #expect(store.apply(message(tags: ["Order#o-1"], cause: ("Product", "p-9", 1))).keysRemoved == 1)
        store.set(bytes("won"), bytes("v"), dependencies: try deps("Product#p-8@5"))
        #expect(store.apply(message(kind: .resolve, tags: ["Product#p-8"], cause: ("Product", "p-8", 5))).keysRemoved == 1)
    }

    @Test func setWithAVersionBelowTheFenceIsStale() throws {
        let store = CacheStore()
        store.apply(message(fences: [.init(ref: "X#1", version: 7)]))
        #expect(store.set(bytes("k"), bytes("v"), dependencies: try deps("X#1@5")) == .stale("X#1@5 is older than the fence at version 7"))
        #expect(store.set(bytes("k"), bytes("v"), dependencies: try deps("X#1@7")) == .stored)
        #expect(store.set(bytes("k"), bytes("v"), dependencies: try deps("X#1")) == .stored)
        // A fence never regresses on an out-of-order message.
        store.apply(message(fences: [.init(ref: "X#1", version: 3)]))
        #expect(store.fence(of: "X#1") == 7)
    }

    @Test func resolutionFencesTheWinner() throws {
        let store = CacheStore()
        store.set(bytes("k"), bytes("v"), dependencies: try deps("Order#9@4"))
        store.apply(message(kind: .resolve, keys: ["k"], cause: ("Order", "9", 6)))
        #expect(store.get(bytes("k")) == nil)
        #expect(store.fence(of: "Order#9") == 6)
        #expect(store.set(bytes("k"), bytes("v"), dependencies: try deps("Order#9@5")) != .stored)
    }

    @Test func leaseSetAfterAnInvalidationOfTheKeyIsStale() {
        let store = CacheStore()
        guard case .miss(let token) = store.leaseGet(bytes("k")).outcome else { Issue.record("expected a miss"); return }
        store.apply(message(keys: ["k"]))
        #expect(store.leaseSet(bytes("k"), token: token, value: bytes("old")) == .stale("the key was invalidated after lease \(token) was issued"))
        #expect(store.get(bytes("k")) == nil)
    }

    @Test func leaseSetAfterAnInvalidationOfANamedDependencyIsStale() throws {
        let store = CacheStore()
        guard case .miss(let token) = store.leaseGet(bytes("k"), dependencies: try deps("User#u-3")).outcome else {
            Issue.record("expected a miss"); return
        }
        store.apply(message(tags: ["User#u-3"]))
        guard case .stale = store.leaseSet(bytes("k"), token: token, value: bytes("old")) else {
            Issue.record("expected STALE"); return
        }
    }

    @Test func leaseRoundTripStoresTheValueWithTheLeaseDependencies() throws {
        let store = CacheStore()
        guard case .miss(let token) = store.leaseGet(bytes("k"), dependencies: try deps("User#u-3")).outcome else {
            Issue.record("expected a miss"); return
        }
        #expect(store.leaseSet(bytes("k"), token: token, value: bytes("fresh")) == .stored)
        #expect(store.leaseGet(bytes("k")).value == bytes("fresh"))
        // The lease's dependency became a tag of the value.
        store.apply(message(tags: ["User#u-3"]))
        #expect(store.get(bytes("k")) == nil)
    }

    @Test func unknownAndExpiredTokensAreNoLease() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(leaseTTLMillis: 1000, clock: { clock.now }))
        guard case .noLease = store.leaseSet(bytes("k"), token: 12345, value: bytes("v")) else {
            Issue.record("expected NOLEASE"); return
        }
        guard case .miss(let token) = store.leaseGet(bytes("k")).outcome else { Issue.record("expected a miss"); return }
        clock.advance(by: 1001)
        guard case .noLease = store.leaseSet(bytes("k"), token: token, value: bytes("v")) else {
            Issue.record("expected NOLEASE"); return
        }
    }

    @Test func keyFencesAreBoundedInCount() {
        let store = CacheStore(StoreConfiguration(shardCount: 1, maxKeyFences: 100))
        store.apply(message(keys: (0..<1000).map { "k\($0)" }))
        #expect(store.stats().keyFences <= 100)
    }

    @Test func reportShowsDependenciesWithFences() throws {
        let store = CacheStore()
        store.apply(message(fences: [.init(ref: "X#1", version: 7)]))
        store.set(bytes("k"), bytes("v"), dependencies: try deps("X#1@8", "other/key"))
        let report = store.report(bytes("k"))
        #expect(report.exists)
        #expect(report.setAtMillis != nil)
        #expect(report.dependencies.map(\.fence) == [7, nil])
    }
}
