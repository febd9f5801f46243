import CascadeGraph
import CascadeWire
import Testing

/// A wave's closures share one visited set: together they list what separate closures of the
/// same roots list, each key once.
@Suite struct ClosureWaveTests {
    @Test(arguments: 0..<20)
    func aWaveListsEachKeyOnceAndReachesWhatSeparateClosuresReach(seed: Int) {
        let graph = ClosurePropertyTests.RandomGraph(seed: UInt64(seed), keys: 150, roots: 8)
        let index = InstanceIndex()
        for (key, dependencies) in graph.registrations { index.register(key, dependencies: dependencies) }
        var random = SplitMix64(seed: UInt64(seed) + 7)
        let wave = index.closureWave()
        var listed: [String] = []
        var reached: Set<String> = []
        for _ in 0..<40 {
            let root = CacheKeyRef(service: "svc-\(random.next() % 3)", key: "k\(random.next() % 150)")
            #expect(wave.reached(root) == reached.contains(root.description))
            let names = wave.closure(ofKey: root).entries.map(\.name)
            // A closure on its own, beside the wave, does not disturb it.
            let alone = Set(index.closure(ofKey: root).entries.map(\.name))
            #expect(Set(names) == alone.subtracting(reached).subtracting([root.description]))
            listed += names
            reached.formUnion(alone)
            reached.insert(root.description)
        }
        #expect(listed.count == Set(listed).count, "a key listed twice in one wave")
        #expect(index.closureWave().reached(CacheKeyRef(service: "svc-0", key: "k0")) == false, "a new wave starts empty")
    }

    @Test func aChainCostsItsLengthWhateverTheOrderOfItsRoots() {
        let links = 2_000
        let index = InstanceIndex()
        func link(_ n: Int) -> CacheKeyRef { CacheKeyRef(service: "s\(n % 3)", key: "chain:\(n)") }
        index.register(link(0), dependencies: [.entity(EntityRef(entity: "E", id: "1"), version: nil)])
        for n in 1..<links { index.register(link(n), dependencies: [.key(link(n - 1))]) }
        let wave = index.closureWave()
        // From the middle, then from the start: the second lists only the first half.
        #expect(wave.closure(ofKey: link(links / 2)).entries.count == links / 2 - 1)
        #expect(wave.closure(ofKey: link(0)).entries.count == links / 2 - 1)
        // Each link is a dependent looked at once.
        #expect(wave.visits == links - 1)
        for n in 0..<links { #expect(wave.reached(link(n)), "chain:\(n)") }
        for n in 0..<links { #expect(wave.closure(ofKey: link(n)).entries.isEmpty) }
    }

    @Test func aChangeToTheIndexStartsTheWaveOver() {
        let index = InstanceIndex()
        let a = CacheKeyRef(service: "s", key: "a")
        let b = CacheKeyRef(service: "s", key: "b")
        index.register(b, dependencies: [.key(a)])
        let wave = index.closureWave()
        #expect(wave.closure(ofKey: a).entries.map(\.name) == ["s/b"])
        #expect(wave.reached(b))
        // An id freed and given to another name must not count as reached.
        index.unregister(b)
        let c = CacheKeyRef(service: "s", key: "c")
        index.register(c, dependencies: [.key(a)])
        #expect(!wave.reached(b) && !wave.reached(c))
        #expect(wave.closure(ofKey: a).entries.map(\.name) == ["s/c"])
    }
}
