import CascadeStore
import Testing

@Suite struct StoreBasicsTests {
    @Test func setGetDeleteRoundTripsBinaryBytes() {
        let store = CacheStore()
        let value: [UInt8] = [0, 255, 13, 10, 0]
        #expect(store.set([0, 1, 2], value) == .stored)
        #expect(store.get([0, 1, 2]) == value)
        #expect(store.delete([0, 1, 2]))
        #expect(store.get([0, 1, 2]) == nil)
        #expect(!store.delete([0, 1, 2]))
    }

    @Test func overwriteWithDifferentLengthsKeepsOneKey() {
        let store = CacheStore()
        store.set(bytes("k"), bytes("short"))
        store.set(bytes("k"), bytes("a much longer value than before"))
        store.set(bytes("k"), bytes("x"))
        #expect(store.get(bytes("k")) == bytes("x"))
        #expect(store.count == 1)
    }

    @Test func conditionsNXAndXX() {
        let store = CacheStore()
        #expect(store.set(bytes("k"), bytes("1"), condition: .ifPresent) == .notStored)
        #expect(store.set(bytes("k"), bytes("1"), condition: .ifAbsent) == .stored)
        #expect(store.set(bytes("k"), bytes("2"), condition: .ifAbsent) == .notStored)
        #expect(store.set(bytes("k"), bytes("3"), condition: .ifPresent) == .stored)
        #expect(store.get(bytes("k")) == bytes("3"))
    }

    @Test func manyKeysSurviveGrowthAndShrinkOfTables() {
        let store = CacheStore(StoreConfiguration(shardCount: 4))
        for index in 0..<20_000 { store.set(bytes("key:\(index)"), bytes("v\(index)")) }
        #expect(store.count == 20_000)
        for index in stride(from: 0, to: 20_000, by: 2) { store.delete(bytes("key:\(index)")) }
        #expect(store.count == 10_000)
        for index in 0..<20_000 {
            let expected = index % 2 == 0 ? nil : bytes("v\(index)")
            #expect(store.get(bytes("key:\(index)")) == expected)
        }
    }

    @Test func scanVisitsEveryKeyOnce() {
        let store = CacheStore(StoreConfiguration(shardCount: 8))
        for index in 0..<1000 { store.set(bytes("k\(index)"), bytes("v")) }
        var seen: [String: Int] = [:]
        var cursor: UInt64 = 0
        repeat {
            cursor = store.scan(cursor: cursor, count: 37) { seen[String(decoding: $0, as: UTF8.self), default: 0] += 1 }
        } while cursor != 0
        #expect(seen.count == 1000)
        #expect(seen.values.allSatisfy { $0 == 1 })
    }

    @Test func hitsAndMissesAreCounted() {
        let store = CacheStore()
        store.set(bytes("k"), bytes("v"))
        _ = store.get(bytes("k"))
        _ = store.get(bytes("nope"))
        let stats = store.stats()
        #expect(stats.hits == 1 && stats.misses == 1 && stats.keys == 1)
    }
}
