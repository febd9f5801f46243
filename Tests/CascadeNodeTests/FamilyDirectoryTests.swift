import CascadeGraph
import CascadeCache
import CascadeStore
import CascadeTestSupport
import Foundation
import Testing

/// The node's side of families: template matching over bytes agrees with the graph's, tiers
/// become eviction classes, and the adaptive TTL converges on a family's change interval.
@Suite struct FamilyDirectoryTests {
    static let shop = """
        service: shop
        tier: standard
        caches:
          product:
            key: "product:{id}"
            ttl: 30m
          product-page:
            key: "product:{id}:page"
            ttl: 10m
            tier: critical
          listing:
            key: "category:{category}:listing:{page}"
            ttl: adaptive
            tier: background
          home:
            key: "home"
            ttl: {adaptive: {min: 5s, max: 1m}}

        """

    static func directory() throws -> (FamilyDirectory, CacheGraph) {
        let folder = try TempDirectory(["shop.yaml": shop])
        defer { folder.remove() }
        let result = try GraphLoader.load(directory: folder.directory)
        let graph = try #require(result.graph, "\(result.diagnostics.map(\.description))")
        return (try #require(FamilyDirectory(graph: graph, service: "shop")), graph)
    }

    @Test func matchingOverBytesAgreesWithTheGraph() throws {
        let (directory, graph) = try Self.directory()
        let keys = [
            "product:1", "product:1:page", "product:1:page:x", "product::page", "product:", "category:shoes:listing:2",
            "category:shoes:listing:", "category::listing:2", "home", "home:1", "other", "", "product:a:b:page",
        ]
        for key in keys {
            let expected = graph.family(ofKey: key[...], service: "shop").map { directory.family(named: $0.0.name)?.number ?? 0 } ?? 0
            let number = Array(key.utf8).withUnsafeBytes { directory.number(of: $0) }
            #expect(number == expected, "\(key)")
        }
    }

    @Test func tiersBecomeEvictionClassesWithScaledShares() throws {
        let (directory, _) = try Self.directory()
        #expect(directory.tiers == [.background, .standard, .critical])
        let policy = directory.policy
        #expect(policy.evictionClass == [1, 1, 2, 0, 1])
        #expect(abs(policy.classShares.reduce(0, +) - 1) < 1e-9)
        #expect(policy.classShares[0] < policy.classShares[1] && policy.classShares[1] < policy.classShares[2])
        let listing = try #require(directory.family(named: "listing"))
        #expect(listing.adaptive?.min == TierPolicy.of(.background).minTTLMillis)
        #expect(directory.family(named: "home")?.adaptive.map { [$0.min, $0.max] } == [5_000, 60_000])
    }

    @Test func adaptiveTTLConvergesOnTheChangeInterval() {
        // 1000 keys, 10 of them change a second: each value lives 100 s on average.
        var learner = AdaptiveTTLLearner(minMillis: 10_000, maxMillis: 3_600_000)
        #expect(learner.ttlMillis == 10_000)
        for _ in 0..<600 { learner.observe(keys: 1000, invalidated: 10, elapsedMillis: 1000) }
        #expect(abs(Double(learner.ttlMillis) - 100_000) < 5_000, "\(learner.ttlMillis)")
        // The family turns volatile: 100 a second, 10 s each; the TTL follows, to its floor.
        for _ in 0..<1800 { learner.observe(keys: 1000, invalidated: 200, elapsedMillis: 1000) }
        #expect(learner.ttlMillis == 10_000)
        // Never seen changing: it grows with the time watched, up to the bound.
        var quiet = AdaptiveTTLLearner(minMillis: 1_000, maxMillis: 60_000)
        quiet.observe(keys: 1, invalidated: 0, elapsedMillis: 5_000)
        #expect(quiet.ttlMillis == 5_000)
        for _ in 0..<100 { quiet.observe(keys: 1, invalidated: 0, elapsedMillis: 1_000) }
        #expect(quiet.ttlMillis == 60_000)
    }
}

/// Families that only a TTL covers learn from fingerprints: storing a key again says whether
/// its value changed since the last store.
@Suite struct FingerprintTTLTests {
    @Test func theStoreCountsChangedAndUnchangedRestores() {
        let clock = ManualClockForNode()
        let policy = FamilyPolicy(familyCount: 1, evictionClass: [0, 0], classShares: [1], observeChanges: [false, true]) { _ in 1 }
        let store = CacheStore(StoreConfiguration(shardCount: 2, clock: { clock.now }, families: policy))
        store.set(Array("k".utf8), Array("v1".utf8))
        clock.advance(by: 1_000)
        store.set(Array("k".utf8), Array("v1".utf8))
        clock.advance(by: 3_000)
        store.set(Array("k".utf8), Array("v2".utf8))
        let stats = store.familyStats()[1]
        #expect(stats.storedUnchanged == 1 && stats.storedChanged == 1 && stats.storedIntervalMillis == 4_000)
    }

    @Test func theTTLKeepsStaleReadsNearTheTarget() {
        // Values change every 600 s; stored again every 60 s: e^(-0.1) of the restores see no change.
        var learner = FingerprintTTLLearner(minMillis: 1_000, maxMillis: 3_600_000, staleTarget: 0.01)
        #expect(learner.ttlMillis == 1_000)
        for _ in 0..<300 { learner.observe(changed: 95, unchanged: 905, intervalMillis: 60_000_000, elapsedMillis: 1_000) }
        // 2 × 1 % × 600 s = 12 s.
        #expect(abs(Double(learner.ttlMillis) - 12_000) < 1_000, "\(learner.ttlMillis)")
    }
}

final class ManualClockForNode: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64 = 1_800_000_000_000
    var now: Int64 { lock.withLock { millis } }
    func advance(by delta: Int64) { lock.withLock { millis += delta } }
}
