import CascadeStore
import CascadeWire
import Testing

/// Families as the store sees them: numbers from a classifier, counters per number, eviction
/// by class, hot keys, and the TTL a family gives values stored without one.
@Suite struct StoreFamilyTests {
    /// `a:*` is family 1 (class 0, evicted first), `b:*` family 2 (class 1); anything else 0.
    static func policy(shares: [Double] = [0.5, 0.5]) -> FamilyPolicy {
        FamilyPolicy(familyCount: 2, evictionClass: [1, 0, 1], classShares: shares) { key in
            guard key.count >= 2, key[1] == UInt8(ascii: ":") else { return 0 }
            switch key[0] {
            case UInt8(ascii: "a"): return 1
            case UInt8(ascii: "b"): return 2
            default: return 0
            }
        }
    }

    @Test func countsPerFamilyFollowSetsReadsAndRemovals() {
        let store = CacheStore(StoreConfiguration(shardCount: 4, families: Self.policy()))
        store.set(bytes("a:1"), bytes("x"))
        store.set(bytes("a:2"), bytes("y"))
        store.set(bytes("b:1"), bytes("z"))
        store.set(bytes("other"), bytes("w"))
        // Overwriting keeps the key in its family; a longer value changes its bytes only.
        store.set(bytes("a:1"), [UInt8](repeating: 1, count: 200))
        _ = store.get(bytes("a:1"))
        _ = store.get(bytes("a:1"))
        _ = store.get(bytes("a:9"))
        _ = store.get(bytes("b:9"))
        _ = store.delete(bytes("a:2"))
        let stats = store.familyStats()
        #expect(stats.count == 3)
        #expect(stats[1].keys == 1 && stats[1].hits == 2 && stats[1].misses == 1)
        #expect(stats[2].keys == 1 && stats[2].misses == 1)
        #expect(stats[0].keys == 1)
        #expect(stats[1].bytes > 200)
        #expect(stats.reduce(0) { $0 + $1.bytes } == store.classBytes().reduce(0, +))
        store.removeAll()
        #expect(store.familyStats().allSatisfy { $0.keys == 0 && $0.bytes == 0 })
    }

    @Test func invalidationsAreCountedPerFamily() {
        let store = CacheStore(StoreConfiguration(shardCount: 4, families: Self.policy()))
        store.set(bytes("a:1"), bytes("x"), dependencies: [.entity(EntityRef(entity: "P", id: "1"), version: nil)])
        store.set(bytes("b:1"), bytes("x"))
        store.apply(InvalidationMessage(
            kind: .invalidate, cause: .init(eventID: "e", entity: "P", id: "1", version: 2, atMillis: 0),
            keys: [.init(key: "b:1", depth: 1)], tags: ["P#1"], fences: []))
        let stats = store.familyStats()
        #expect(stats[1].invalidations == 1 && stats[2].invalidations == 1)
        #expect(stats[1].keys == 0 && stats[2].keys == 0)
    }

    @Test func underPressureTheLowerClassAboveItsShareGoesFirst() {
        // One shard, 64 kB: class 1 (b:) writes 10 kB first and never more; class 0 (a:)
        // then writes ten times the budget. Every eviction falls on a: keys.
        let store = CacheStore(StoreConfiguration(maxMemoryBytes: 64 << 10, shardCount: 1, families: Self.policy()))
        let value = [UInt8](repeating: 1, count: 100)
        for index in 0..<80 { store.set(bytes("b:\(index)"), value) }
        for index in 0..<6000 { store.set(bytes("a:\(index)"), value) }
        let stats = store.familyStats()
        #expect(stats[2].keys == 80 && stats[2].evictions == 0)
        #expect(stats[1].evictions > 4000)
        #expect(store.stats().usedBytes <= 64 << 10)
    }

    @Test func aClassWithinItsShareLosesKeysOnlyWhenTheOtherIsWithinItsOwn() {
        // Class 1 may hold 10 %: once it holds more, its own keys go too.
        let store = CacheStore(StoreConfiguration(
            maxMemoryBytes: 64 << 10, shardCount: 1, families: Self.policy(shares: [0.9, 0.1])))
        let value = [UInt8](repeating: 1, count: 100)
        for index in 0..<400 { store.set(bytes("b:\(index)"), value) }
        for index in 0..<2000 { store.set(bytes("a:\(index)"), value) }
        let bytesOfB = store.classBytes()[1]
        #expect(store.familyStats()[2].evictions > 0)
        #expect(bytesOfB <= (64 << 10) / 10 + 200)
    }

    @Test func hotKeysAreListedHottestFirstAndReportedWhenInvalidated() {
        let store = CacheStore(StoreConfiguration(shardCount: 1, families: Self.policy(), hotKeyMinHits: 5))
        for index in 0..<50 { store.set(bytes("a:\(index)"), bytes("v")) }
        for _ in 0..<40 { _ = store.get(bytes("a:7")) }
        for _ in 0..<20 { _ = store.get(bytes("a:3")) }
        for index in 0..<50 { _ = store.get(bytes("a:\(index)")) }
        let hot = store.hotKeys(2)
        #expect(hot.map(\.key) == ["a:7", "a:3"])
        #expect(hot.first.map { $0.hits >= 41 } == true)
        #expect(hot.first?.family == 1)
        let result = store.apply(InvalidationMessage(
            kind: .invalidate, cause: .init(eventID: "e", entity: "P", id: "7", version: 2, atMillis: 0),
            keys: [.init(key: "a:7", depth: 0), .init(key: "a:40", depth: 0)], tags: [], fences: []))
        #expect(result.hotKeys.map(\.key) == ["a:7"])
        #expect(store.hotKeys(10).contains { $0.key == "a:7" } == false)
        store.decayHotKeys()
        #expect(store.hotKeys(1).first.map { $0.hits <= 11 } == true)
    }

    @Test func aFamilyTTLAppliesToValuesStoredWithoutOne() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(shardCount: 2, clock: { clock.now }, families: Self.policy()))
        store.setDefaultTTL(family: 1, milliseconds: 5_000)
        store.set(bytes("a:1"), bytes("x"))
        store.set(bytes("a:2"), bytes("x"), expiry: .at(clock.now + 60_000))
        store.set(bytes("b:1"), bytes("x"))
        #expect(store.timeToLive(bytes("a:1")) == .millis(5_000))
        #expect(store.report(bytes("a:1")).adaptiveTTL)
        #expect(store.report(bytes("a:1")).family == 1)
        #expect(!store.report(bytes("a:2")).adaptiveTTL)
        #expect(store.timeToLive(bytes("b:1")) == .persistent)
        // A TTL the client sets later is the client's.
        _ = store.expire(bytes("a:1"), at: clock.now + 9_000)
        #expect(!store.report(bytes("a:1")).adaptiveTTL)
        clock.advance(by: 10_000)
        #expect(store.get(bytes("a:1")) == nil)
        #expect(store.familyStats()[1].expired == 1)
    }
}
