import CascadeGraph
import CascadeWire
import Testing

/// The index split over partitions: every instance holds the edges of its partitions' dependencies
/// and hands the cascade on to the others through hops. On random graphs full of cycles, the
/// union of what the shares list equals the closure of one whole index.
@Suite struct IndexSharePropertyTests {
    typealias RandomGraph = ClosurePropertyTests.RandomGraph

    /// Instances holding `partitions` partitions between them, fed the graph's registrations as
    /// the router sends them: per key, one record per partition its dependencies lie in.
    struct Cluster {
        let partitioner: StatePartitioner
        let shares: [IndexShare]
        let owner: [Int32: Int]

        init(
            graph: RandomGraph = RandomGraph(), partitions: Int32, instances: Int, seed: UInt64, cacheGraph: CacheGraph? = nil,
            goneKeyGraceMillis: Int64 = 0
        ) {
            partitioner = StatePartitioner(count: partitions)
            var random = SplitMix64(seed: seed)
            var owner: [Int32: Int] = [:]
            for partition in 0..<partitions {
                // Every instance gets one, then the rest at random.
                owner[partition] = partition < instances ? Int(partition) : Int(random.next() % UInt64(instances))
            }
            self.owner = owner
            let partitioner = partitioner
            let filter = HopFilter(graph: cacheGraph)
            shares = (0..<instances).map { instance in
                IndexShare(
                    index: InstanceIndex(graph: cacheGraph), partitioner: partitioner,
                    holding: Set(owner.filter { $0.value == instance }.keys), filter: filter, goneKeyGraceMillis: goneKeyGraceMillis)
            }
            for (key, dependencies) in graph.registrations { route(key, dependencies) }
        }

        /// What the router does with a registration: one record per partition of its dependencies.
        func route(_ key: CacheKeyRef, _ dependencies: [Dependency]) {
            for (partition, inPartition) in Dictionary(grouping: dependencies, by: { partitioner.partition(of: $0.tag) }) {
                _ = share(of: partition).apply(EdgeRecord(key: key, partition: partition, dependencies: inPartition))
            }
        }

        func share(of partition: Int32) -> IndexShare { shares[owner[partition] ?? 0] }

        /// A registration or tombstone, through the router of the key's partition, its records
        /// (and the records they cause) through the shares of theirs.
        func route(_ change: InstanceIndex.Change, atMillis: Int64 = 0) {
            var records: [EdgeRecord]
            switch change {
            case .register(let key, let dependencies, let owner):
                records = share(of: partitioner.partition(of: key.description)).route(key, dependencies: dependencies, owner: owner)
            case .unregister(let key, let owner):
                records = share(of: partitioner.partition(of: key.description))
                    .routeTombstone(key, owner: owner, wentAtMillis: atMillis, nowMillis: atMillis)
            }
            apply(records)
        }

        /// Ends every share's graces over by `nowMillis`, applying the records that takes.
        func endGraces(nowMillis: Int64) {
            for share in shares { apply(share.endGraces(nowMillis: nowMillis) { _ in true }.flatMap(\.records)) }
        }

        private func apply(_ records: [EdgeRecord]) {
            var records = records
            while let record = records.popLast() { records += share(of: record.partition).apply(record) }
        }

        /// Every name the shares list for the event, with how often each share expanded each
        /// hop (at most once) and how many hops went.
        func closure(
            of ref: EntityRef, attrs: [String: String] = [:], arrivingOn partition: Int32, root: String
        ) -> (names: [String], hops: Int) {
            let event = DomainEvent(ref: ref, op: .update, version: 1, origin: "test", attrs: attrs, eventID: root)
            let first = share(of: partition).closure(of: event, root: root)
            var names = first.closure.entries.map(\.name)
            var queue = first.hops
            var hops = 0
            while let hop = queue.popLast() {
                hops += 1
                #expect(hop.fence == ref && hop.fenceVersion == 1, "every hop carries the event fence: \(hop.fence) \(ref)")
                #expect(hops < 100_000, "the cascade ends")
                if hops >= 100_000 { break }
                guard let next = share(of: hop.partition).closure(of: hop) else { continue }
                names += next.closure.entries.map(\.name)
                queue += next.hops
            }
            return (names, hops)
        }
    }

    @Test(arguments: 0..<30)
    func sharesTogetherListTheWholeClosure(seed: Int) {
        let graph = RandomGraph(seed: UInt64(seed), keys: 150, roots: 8)
        let whole = InstanceIndex()
        for (key, dependencies) in graph.registrations { whole.register(key, dependencies: dependencies) }
        let partitions = Int32(1 + seed % 7)
        let instances = 1 + seed % Int(partitions)
        let cluster = Cluster(graph: graph, partitions: partitions, instances: instances, seed: UInt64(seed))
        for root in 0..<8 {
            let ref = EntityRef(entity: "E", id: "\(root)")
            let expected = Set(whole.closure(of: ref).entries.map(\.name))
            // Where Kafka's partitioner puts it, and, as a producer with another partitioner would, elsewhere.
            for (run, arrival) in [cluster.partitioner.partition(of: ref.description), Int32(root) % partitions].enumerated() {
                // A root names one event: each run is another.
                let listed = cluster.closure(of: ref, arrivingOn: arrival, root: "\(ref) run \(run)")
                #expect(Set(listed.names) == expected, "seed \(seed), \(partitions) partitions, \(instances) instances, root \(ref)")
                if instances == 1 { #expect(listed.hops == 0 && listed.names.count == expected.count) }
            }
        }
        #expect(cluster.shares.map { $0.index.statistics.edges }.reduce(0, +) == whole.statistics.edges, "each edge held once")
    }

    /// Odd seeds give gone keys a grace (5 changes long), in the routers and the one index alike.
    @Test("routers and shares fed registrations and tombstones of several nodes end where one index does", arguments: 0..<40)
    func routedChangesMatchOneIndex(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed) + 500)
        let partitions = Int32(1 + seed % 5)
        let grace: Int64 = seed % 2 == 1 ? 5_000 : 0
        let cluster = Cluster(partitions: partitions, instances: 1 + seed % Int(partitions), seed: UInt64(seed), goneKeyGraceMillis: grace)
        let whole = InstanceIndex(goneKeyGraceMillis: grace)
        let keys = (0..<40).map { CacheKeyRef(service: "svc-\($0 % 3)", key: "k\($0)") }
        var incarnations: [String: UInt64] = [:]
        var registered: [(CacheKeyRef, RegistrationOwner)] = []
        var now: Int64 = 0
        func matches(_ when: String) {
            #expect(cluster.shares.map { $0.index.statistics.edges }.reduce(0, +) == whole.statistics.edges, "\(when)")
            for key in keys {
                let held = cluster.shares.flatMap { $0.index.dependencies(of: key) ?? [] }
                #expect(held.sorted() == (whole.dependencies(of: key) ?? []).sorted(), "\(key), \(when)")
            }
            for root in 0..<6 {
                let ref = EntityRef(entity: "E", id: "\(root)")
                let listed = cluster.closure(of: ref, arrivingOn: cluster.partitioner.partition(of: ref.description), root: "\(ref) \(when)")
                #expect(Set(listed.names) == Set(whole.closure(of: ref).entries.map(\.name)), "\(when)")
            }
        }
        for _ in 0..<300 {
            now += 1_000
            let key = keys[Int(random.next() % UInt64(keys.count))]
            let change: InstanceIndex.Change
            if random.next() % 10 < 6 || registered.isEmpty {
                let node = ["a", "b", "c"][Int(random.next() % 3)]
                incarnations[node, default: 0] += 1
                let owner = RegistrationOwner(node: node, incarnation: incarnations[node] ?? 0)
                let dependencies: [Dependency] = (0..<Int(random.next() % 4)).map { _ in
                    random.next() % 3 == 0
                        ? .entity(EntityRef(entity: "E", id: "\(random.next() % 6)"), version: nil)
                        : .key(keys[Int(random.next() % UInt64(keys.count))])
                }
                registered.append((key, owner))
                change = .register(key, dependencies: dependencies, owner: random.next() % 8 == 0 ? nil : owner)
            } else {
                // The tombstone of some value stored before, in any order.
                let (key, owner) = registered[Int(random.next() % UInt64(registered.count))]
                change = .unregister(key, owner: random.next() % 8 == 0 ? nil : owner)
            }
            switch change {
            case .unregister(let key, let owner): whole.unregister(key, owner: owner, wentAtMillis: now, nowMillis: now)
            case .register: whole.apply([change])
            }
            cluster.route(change, atMillis: now)
            whole.endGraces(nowMillis: now)
            cluster.endGraces(nowMillis: now)
        }
        matches("with the last graces running")
        whole.endGraces(nowMillis: now + grace)
        cluster.endGraces(nowMillis: now + grace)
        #expect(whole.gracedKeys == 0)
        matches("every grace over")
    }

    /// With the example graph: bound keys need no hop, and only keys of families a registration
    /// can point at are handed on (`HopFilter`), undeclared registrations included.
    @Test(arguments: 0..<20)
    func withTheExampleGraphOnlyKeysWithPossibleDependentsHop(seed: Int) throws {
        let graph = try #require(try GraphLoader.load(directory: ExportAndCLITests.graphDirectory).graph)
        var random = SplitMix64(seed: UInt64(seed) + 77)
        let whole = InstanceIndex(graph: graph)
        let partitions = Int32(2 + seed % 6)
        let cluster = Cluster(partitions: partitions, instances: 2 + seed % Int(partitions - 1), seed: UInt64(seed), cacheGraph: graph)
        // Declared: summaries on a product, an order and a profile. Undeclared: now and then a
        // summary on a product page, a listing on a summary, and reports on sessions, a family
        // nobody declares a dependency on (reached only when the filter learns it).
        for n in 0..<10 {
            let report = CacheKeyRef(service: "analytics-service", key: "report:category:s\(n)")
            let on: [Dependency] = [.key(CacheKeyRef(service: "user-service", key: "session:u-\(n)"))]
            whole.register(report, dependencies: on)
            cluster.route(.register(report, dependencies: on, owner: nil))
        }
        for n in 0..<300 {
            let summary = CacheKeyRef(service: "order-service", key: "order:o-\(n):summary")
            var dependencies: [Dependency] = [
                .entity(EntityRef(entity: "Product", id: "p-\(n % 20)"), version: nil),
                .entity(EntityRef(entity: "Order", id: "o-\(n)"), version: nil),
                .key(CacheKeyRef(service: "user-service", key: "user:u-\(n % 10):profile")),
            ]
            if random.next() % 10 == 0 { dependencies.append(.key(CacheKeyRef(service: "product-service", key: "product:p-\(n % 20):page"))) }
            whole.register(summary, dependencies: dependencies)
            cluster.route(.register(summary, dependencies: dependencies, owner: nil))
            if random.next() % 15 == 0 {
                let listing = CacheKeyRef(service: "product-service", key: "category:c\(n % 5):listing")
                let on: [Dependency] = [.key(summary)]
                whole.register(listing, dependencies: on)
                cluster.route(.register(listing, dependencies: on, owner: nil))
            }
        }
        var hops = 0
        for (run, (entity, id, attrs)) in [
            ("Product", "p-3", ["category": "c3"]), ("Order", "o-7", ["userId": "u-7"]), ("User", "u-4", ["country": "k1"]),
            ("Product", "p-11", [:]),
        ].enumerated() {
            let ref = EntityRef(entity: entity, id: id)
            let expected = Set(whole.closure(of: ref, attrs: attrs).entries.map(\.name))
            let listed = cluster.closure(of: ref, attrs: attrs, arrivingOn: cluster.partitioner.partition(of: ref.description), root: "r\(run)")
            #expect(Set(listed.names) == expected, "\(ref), \(partitions) partitions")
            hops += listed.hops
        }
        #expect(hops > 0)
    }

    @Test("a root's keys are expanded at most once per share, even when hops come back")
    func hopsForAKeyAlreadyExpandedAreDropped() {
        let partitioner = StatePartitioner(count: 2)
        // Two keys in a cycle, each in its own partition, each held by another instance.
        var names = (a: "s/a0", b: "s/b0")
        for index in 0..<100 where partitioner.partition(of: "s/a\(index)") == 0 {
            names.a = "s/a\(index)"
            break
        }
        for index in 0..<100 where partitioner.partition(of: "s/b\(index)") == 1 {
            names.b = "s/b\(index)"
            break
        }
        let a = CacheKeyRef(service: "s", key: String(names.a.dropFirst(2)))
        let b = CacheKeyRef(service: "s", key: String(names.b.dropFirst(2)))
        let zero = IndexShare(index: InstanceIndex(), partitioner: partitioner, holding: [0])
        let one = IndexShare(index: InstanceIndex(), partitioner: partitioner, holding: [1])
        _ = zero.apply(EdgeRecord(key: b, partition: 0, dependencies: [.key(a)]))
        _ = one.apply(EdgeRecord(key: a, partition: 1, dependencies: [.key(b)]))
        let hop = StateHop(
            root: "r", name: names.a, partition: 0, fence: EntityRef(entity: "E", id: "1"), fenceVersion: 3, depth: 1, path: ["E#1", names.a],
            skip: [])
        let first = zero.closure(of: hop)
        #expect(first?.closure.entries.map(\.name) == [names.b])
        #expect(first?.hops.map(\.name) == [names.b])
        #expect(first?.hops.first?.depth == 2)
        #expect(first?.hops.first?.path == ["E#1", names.a, names.b])
        #expect(first?.hops.first?.fence == EntityRef(entity: "E", id: "1") && first?.hops.first?.fenceVersion == 3, "the root's fence goes on")
        let second = one.closure(of: first!.hops[0])
        // b's dependent is a, which the hop's sender named: the cycle ends here.
        #expect(second?.closure.entries.isEmpty == true)
        #expect(zero.closure(of: hop) == nil, "the same root's hop for the same key again")
        #expect(zero.closure(of: StateHop(
            root: "r2", name: names.a, partition: 0, fence: EntityRef(entity: "E", id: "1"), fenceVersion: 4, depth: 1, path: [], skip: [])) != nil)
    }

    @Test("a standby's edges stay warm, but its keys are handed on: their owner hears of every invalidation of them")
    func standbyKeysAreHandedOn() {
        let partitioner = StatePartitioner(count: 2)
        func name(_ prefix: String, in partition: Int32) -> String {
            (0..<100).lazy.map { "s/\(prefix)\($0)" }.first { partitioner.partition(of: $0) == partition } ?? ""
        }
        let (a, b, c) = (name("a", in: 0), name("b", in: 1), name("c", in: 0))
        func ref(_ name: String) -> CacheKeyRef { CacheKeyRef(service: "s", key: String(name.dropFirst(2))) }
        let share = IndexShare(index: InstanceIndex(), partitioner: partitioner, holding: [0, 1])
        // b depends on a (an edge of a's partition), c on b (an edge of b's).
        _ = share.apply(EdgeRecord(key: ref(b), partition: 0, dependencies: [.key(ref(a))]))
        _ = share.apply(EdgeRecord(key: ref(c), partition: 1, dependencies: [.key(ref(b))]))
        func hop(root: String) -> StateHop {
            StateHop(root: root, name: a, partition: 0, fence: EntityRef(entity: "E", id: "1"), fenceVersion: 1, depth: 1, path: [a], skip: [])
        }
        let held = share.closure(of: hop(root: "held"))
        #expect(held?.closure.entries.map(\.name) == [b, c])
        #expect(held?.hops.isEmpty == true, "holding both partitions, no hop")
        share.standBy(1)
        #expect(share.partitions == [0])
        let standing = share.closure(of: hop(root: "standing"))
        #expect(standing?.closure.entries.map(\.name) == [b, c], "the warm edges still reach c at once")
        #expect(standing?.hops.map(\.name) == [b], "b's owner hears of it")
    }

    @Test("giving a partition up drops its edges; taking it back from its records restores them")
    func partitionLossAndGain() {
        let graph = RandomGraph(seed: 99, keys: 200, roots: 8)
        let partitioner = StatePartitioner(count: 4)
        let share = IndexShare(index: InstanceIndex(), partitioner: partitioner, holding: [0, 1, 2, 3])
        let whole = InstanceIndex()
        var records: [Int32: [(CacheKeyRef, [Dependency])]] = [:]
        for (key, dependencies) in graph.registrations {
            whole.register(key, dependencies: dependencies)
            for (partition, inPartition) in Dictionary(grouping: dependencies, by: { partitioner.partition(of: $0.tag) }) {
                _ = share.apply(EdgeRecord(key: key, partition: partition, dependencies: inPartition))
                records[partition, default: []].append((key, inPartition))
            }
        }
        let full = share.index.statistics
        #expect(full.edges == whole.statistics.edges && full.registeredKeys == whole.statistics.registeredKeys)
        share.release(2)
        let without = share.index.statistics
        #expect(without.edges == full.edges - (records[2] ?? []).map(\.1.count).reduce(0, +))
        #expect((records[2] ?? []).allSatisfy { record in record.1.allSatisfy { share.index.dependents(of: $0.tag).isEmpty } })
        #expect(share.partitions == [0, 1, 3])
        share.hold(2)
        for (key, dependencies) in records[2] ?? [] { _ = share.apply(EdgeRecord(key: key, partition: 2, dependencies: dependencies)) }
        var restored = share.index.statistics
        restored.approximateBytes = full.approximateBytes
        #expect(restored == full, "the same edges, keys and names")
        for root in 0..<8 {
            let ref = EntityRef(entity: "E", id: "\(root)")
            #expect(Set(share.index.closure(of: ref).entries.map(\.name)) == Set(whole.closure(of: ref).entries.map(\.name)))
        }
    }

    @Test("a record replaces the key's edges into its partition only")
    func recordReplacesOnePartition() {
        let partitioner = StatePartitioner(count: 3)
        let share = IndexShare(index: InstanceIndex(), partitioner: partitioner, holding: [0, 1, 2])
        let key = CacheKeyRef(service: "s", key: "k")
        var byPartition: [Int32: [Dependency]] = [:]
        var id = 0
        while byPartition.count < 3 || byPartition.values.contains(where: { $0.count < 2 }) {
            let dependency = Dependency.entity(EntityRef(entity: "E", id: "\(id)"), version: nil)
            byPartition[partitioner.partition(of: dependency.tag), default: []].append(dependency)
            id += 1
        }
        for (partition, dependencies) in byPartition { _ = share.apply(EdgeRecord(key: key, partition: partition, dependencies: dependencies)) }
        let all = Set(byPartition.values.joined().map(\.tag))
        #expect(Set(share.index.dependencies(of: key) ?? []) == all)
        let kept = [byPartition[1]![0]]
        _ = share.apply(EdgeRecord(key: key, partition: 1, dependencies: kept))
        #expect(Set(share.index.dependencies(of: key) ?? []) == all.subtracting(byPartition[1]!.map(\.tag)).union([kept[0].tag]))
        _ = share.apply(EdgeRecord(key: key, partition: 0, dependencies: []))
        _ = share.apply(EdgeRecord(key: key, partition: 1, dependencies: []))
        _ = share.apply(EdgeRecord(key: key, partition: 2, dependencies: []))
        let statistics = share.index.statistics
        #expect(statistics.registeredKeys == 0 && statistics.edges == 0 && statistics.names == 0)
    }
}
