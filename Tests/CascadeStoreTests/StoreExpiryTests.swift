import CascadeStore
import Testing

@Suite struct StoreExpiryTests {
    @Test func keysExpireLazilyAndTTLReportsRemainingTime() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(clock: { clock.now }))
        store.set(bytes("k"), bytes("v"), expiry: .at(clock.now + 1000))
        #expect(store.timeToLive(bytes("k")) == .millis(1000))
        clock.advance(by: 999)
        #expect(store.get(bytes("k")) == bytes("v"))
        clock.advance(by: 1)
        #expect(store.get(bytes("k")) == nil)
        #expect(store.timeToLive(bytes("k")) == .missing)
    }

    @Test func expirePersistAndKeepTTL() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(clock: { clock.now }))
        store.set(bytes("k"), bytes("v"))
        #expect(store.timeToLive(bytes("k")) == .persistent)
        #expect(store.expire(bytes("k"), at: clock.now + 5000))
        store.set(bytes("k"), bytes("w"), expiry: .keep)
        #expect(store.timeToLive(bytes("k")) == .millis(5000))
        #expect(bytes("k").withUnsafeBytes { store.persist($0) })
        #expect(store.timeToLive(bytes("k")) == .persistent)
        #expect(!bytes("k").withUnsafeBytes { store.persist($0) })
        store.set(bytes("k"), bytes("x"))
        #expect(store.timeToLive(bytes("k")) == .persistent)
        #expect(store.expire(bytes("k"), at: clock.now - 1))
        #expect(!store.exists(bytes("k")))
    }

    @Test func activeSweepReclaimsExpiredKeysNobodyReads() {
        let clock = ManualClock()
        let store = CacheStore(StoreConfiguration(shardCount: 4, clock: { clock.now }))
        for index in 0..<5000 { store.set(bytes("t\(index)"), bytes("v"), expiry: .at(clock.now + 100)) }
        for index in 0..<100 { store.set(bytes("p\(index)"), bytes("v")) }
        let before = store.stats().usedBytes
        clock.advance(by: 200)
        var rounds = 0
        while store.count > 100 && rounds < 1000 {
            store.sweepExpired(slotsPerShard: 256)
            rounds += 1
        }
        #expect(store.count == 100)
        #expect(store.stats().usedBytes < before / 10)
    }
}
