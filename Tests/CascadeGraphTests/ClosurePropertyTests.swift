import CascadeGraph
import CascadeWire
import Testing

/// On random instance graphs full of cycles, the closure equals a plain breadth-first search.
@Suite struct ClosurePropertyTests {
    struct RandomGraph {
        var registrations: [CacheKeyRef: [Dependency]] = [:]
        /// Keys whose value is gone but that others depend on: their edges stay.
        var retired: Set<CacheKeyRef> = []

        func hasDependents(_ key: CacheKeyRef) -> Bool {
            registrations.values.contains { $0.contains { $0.tag == key.description } }
        }

        /// The index's rules, written plainly: a key others depend on is retired, not removed.
        mutating func unregister(_ key: CacheKeyRef) {
            guard registrations[key] != nil else { return }
            if hasDependents(key) { retired.insert(key) } else { remove(key) }
        }

        /// Replaces what a key depends on, unless others depend on it: then adds to it.
        mutating func register(_ key: CacheKeyRef, _ dependencies: [Dependency]) {
            if let old = registrations[key], hasDependents(key) {
                registrations[key] = old + dependencies.filter { new in !old.contains { $0.tag == new.tag } }
                retired.remove(key)
                return
            }
            let old = registrations[key] ?? []
            registrations[key] = dependencies
            retired.remove(key)
            release(old)
        }

        private mutating func remove(_ key: CacheKeyRef) {
            let old = registrations.removeValue(forKey: key) ?? []
            retired.remove(key)
            release(old)
        }

        /// Retired keys left without dependents go, and so on down.
        private mutating func release(_ dependencies: [Dependency]) {
            for case .key(let ref) in dependencies where retired.contains(ref) && !hasDependents(ref) { remove(ref) }
        }

        init() {}

        init(seed: UInt64, keys: Int, roots: Int) {
            var random = SplitMix64(seed: seed)
            for index in 0..<keys {
                let key = CacheKeyRef(service: "svc-\(index % 3)", key: "k\(index)")
                let count = Int(random.next() % 4)
                registrations[key] = (0..<count).map { _ in
                    if random.next() % 4 == 0 {
                        return .entity(EntityRef(entity: "E", id: "\(random.next() % UInt64(roots))"), version: random.next() % 10)
                    }
                    let other = Int(random.next() % UInt64(keys))
                    return .key(CacheKeyRef(service: "svc-\(other % 3)", key: "k\(other)"))
                }
            }
        }

        /// Reference: depth of every key reachable from `root` through dependents.
        func reference(from root: String) -> [String: Int] {
            var dependents: [String: [String]] = [:]
            for (key, dependencies) in registrations {
                for dependency in dependencies { dependents[dependency.tag, default: []].append(key.description) }
            }
            var depth: [String: Int] = [root: 0]
            var queue = [root]
            var head = 0
            while head < queue.count {
                let node = queue[head]
                head += 1
                for next in dependents[node] ?? [] where depth[next] == nil {
                    depth[next] = (depth[node] ?? 0) + 1
                    queue.append(next)
                }
            }
            depth[root] = nil
            return depth
        }
    }

    static func check(_ closure: InstanceClosure, against reference: [String: Int], graph: RandomGraph) {
        let names = closure.entries.map(\.name)
        #expect(Set(names).count == names.count, "a key appears twice")
        #expect(Dictionary(uniqueKeysWithValues: closure.entries.map { ($0.name, $0.depth) }) == reference)
        // Each parent hop is a real registration, and the path is as long as the depth.
        for (index, entry) in closure.entries.enumerated() {
            let path = closure.path(to: index)
            #expect(path.count == entry.depth + 1)
            let parent = entry.parent >= 0 ? closure.entries[entry.parent].name : closure.root
            let dependencies = graph.registrations.first { $0.key.description == entry.name }?.value ?? []
            #expect(dependencies.contains { $0.tag == parent })
        }
    }

    @Test(arguments: 0..<40)
    func closureMatchesBreadthFirstReference(seed: Int) {
        var graph = RandomGraph(seed: UInt64(seed), keys: 150, roots: 8)
        let index = InstanceIndex()
        for (key, dependencies) in graph.registrations { index.register(key, dependencies: dependencies) }
        for root in 0..<8 {
            let ref = EntityRef(entity: "E", id: "\(root)")
            Self.check(index.closure(of: ref), against: graph.reference(from: ref.description), graph: graph)
        }
        // Unregister a third of the keys and re-register some with new dependencies.
        var random = SplitMix64(seed: UInt64(seed) + 1000)
        for key in graph.registrations.keys.sorted(by: { $0.key < $1.key }) where random.next() % 3 == 0 {
            if random.next() % 2 == 0 {
                index.unregister(key)
                graph.unregister(key)
            } else {
                let other = CacheKeyRef(service: "svc-0", key: "k\(random.next() % 150)")
                let dependencies: [Dependency] = [.key(other), .entity(EntityRef(entity: "E", id: "0"), version: nil)]
                index.register(key, dependencies: dependencies)
                graph.register(key, dependencies)
            }
        }
        for root in 0..<8 {
            let ref = EntityRef(entity: "E", id: "\(root)")
            Self.check(index.closure(of: ref), against: graph.reference(from: ref.description), graph: graph)
        }
        let key = CacheKeyRef(service: "svc-1", key: "k1")
        let fromKey = index.closure(ofKey: key)
        #expect(Set(fromKey.entries.map(\.name)) == Set(graph.reference(from: key.description).keys))
    }

    @Test func statisticsFollowRegistrations() {
        let index = InstanceIndex()
        let key = CacheKeyRef(service: "s", key: "a")
        index.register(key, dependencies: [.entity(EntityRef(entity: "E", id: "1"), version: 3), .key(CacheKeyRef(service: "s", key: "b"))])
        #expect(index.statistics.edges == 2)
        #expect(index.dependencies(of: key) == ["E#1", "s/b"])
        #expect(index.dependents(of: "E#1") == ["s/a"])
        index.register(key, dependencies: [.entity(EntityRef(entity: "E", id: "2"), version: nil)])
        #expect(index.dependents(of: "E#1").isEmpty)
        #expect(index.statistics.edges == 1)
        #expect(index.unregister(key))
        let statistics = index.statistics
        #expect(statistics.registeredKeys == 0 && statistics.names == 0 && statistics.edges == 0)
        #expect(!index.unregister(key))
    }

    @Test func namesAreReusedAfterChurn() {
        let index = InstanceIndex()
        for round in 0..<5 {
            for n in 0..<2000 {
                index.register(CacheKeyRef(service: "s", key: "r\(round):\(n)"), dependencies: [.entity(EntityRef(entity: "E", id: "\(n % 7)"), version: nil)])
            }
            for n in 0..<2000 { index.unregister(CacheKeyRef(service: "s", key: "r\(round):\(n)")) }
        }
        #expect(index.statistics.names == 0)
        index.register(CacheKeyRef(service: "s", key: "last"), dependencies: [.entity(EntityRef(entity: "E", id: "1"), version: nil)])
        #expect(index.closure(of: EntityRef(entity: "E", id: "1")).entries.map(\.name) == ["s/last"])
    }

    @Test func concurrentReadersAlongsideAWriter() async {
        let index = InstanceIndex()
        let synthetic = SyntheticInstanceGraph(keyCount: 1200)
        index.register(contentsOf: synthetic.registrations(0..<600))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { index.register(contentsOf: synthetic.registrations(600..<1200)) }
            for reader in 0..<4 {
                group.addTask {
                    for round in 0..<200 {
                        let closure = index.closure(of: synthetic.root(cluster: (reader + round) % 5))
                        #expect(closure.entries.count == 120)
                    }
                }
            }
        }
        #expect(index.closure(of: synthetic.root(cluster: 9)).entries.count == 120)
    }
}
