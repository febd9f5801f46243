import CascadeStore
import Testing

@Suite struct StoreEvictionTests {
    @Test func writingTwiceTheBudgetStaysUnderIt() {
        let budget = 4 << 20
        let store = CacheStore(StoreConfiguration(maxMemoryBytes: budget, shardCount: 16))
        let value = [UInt8](repeating: 7, count: 100)
        var written = 0
        var index = 0
        while written < 2 * budget {
            store.set(bytes("key:\(index)"), value)
            written += 116
            index += 1
        }
        let stats = store.stats()
        #expect(stats.usedBytes <= budget)
        #expect(stats.evictions > 0)
        #expect(stats.keys > 10_000)
    }

    @Test func sampledLRUKeepsRecentlyReadKeys() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(
            maxMemoryBytes: 1 << 20, shardCount: 4, evictionSamples: 10, clock: { clock.now }))
        let value = [UInt8](repeating: 1, count: 100)
        for index in 0..<2000 { store.set(bytes("hot:\(index)"), value) }
        for round in 0..<40 {
            clock.advance(by: 200)
            for index in 0..<2000 { _ = store.get(bytes("hot:\(index)")) }
            clock.advance(by: 200)
            for index in 0..<500 { store.set(bytes("cold:\(round):\(index)"), value) }
        }
        let survivors = (0..<2000).filter { store.exists(bytes("hot:\($0)")) }.count
        #expect(store.stats().evictions > 10_000)
        #expect(survivors > 1500)
    }

    @Test func aValueLargerThanTheBudgetIsRefused() {
        let store = CacheStore(StoreConfiguration(maxMemoryBytes: 64 << 10, shardCount: 1))
        #expect(store.set(bytes("big"), [UInt8](repeating: 0, count: 128 << 10)) == .outOfMemory)
    }
}
