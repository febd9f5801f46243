import CascadeWire

/// A deterministic instance graph for the benchmark and the property tests: keys in
/// clusters of 120 under one `Product#c` root (a tree 3 wide and 4 deep), each key with its
/// tree parent plus extra dependencies inside its cluster, which make cycles but never widen
/// the closure. Keys of one cluster are spread over four services.
public struct SyntheticInstanceGraph: Sendable {
    public static let clusterSize = 120
    public let keyCount: Int
    public let dependenciesPerKey: Int
    public let seed: UInt64

    public init(keyCount: Int, dependenciesPerKey: Int = 3, seed: UInt64 = 42) {
        self.keyCount = keyCount
        self.dependenciesPerKey = max(1, dependenciesPerKey)
        self.seed = seed
    }

    public var clusterCount: Int { (keyCount + Self.clusterSize - 1) / Self.clusterSize }

    public func root(cluster: Int) -> EntityRef { EntityRef(entity: "Product", id: "p\(cluster)") }

    public func key(_ index: Int) -> CacheKeyRef {
        let cluster = index / Self.clusterSize
        let position = index % Self.clusterSize
        return CacheKeyRef(service: "svc-\((cluster + position) % 4)", key: "c\(cluster):k\(position)")
    }

    /// The registrations for keys in `range`, generated on demand so the input never has to
    /// sit in memory next to the index.
    public func registrations(_ range: Range<Int>) -> [(key: CacheKeyRef, dependencies: [Dependency])] {
        var random = SplitMix64(seed: seed ^ UInt64(range.lowerBound))
        return range.map { index in
            let cluster = index / Self.clusterSize
            let position = index % Self.clusterSize
            let base = cluster * Self.clusterSize
            let size = min(Self.clusterSize, keyCount - base)
            var chosen: [Int] = []
            var dependencies: [Dependency] = []
            if position < 3 {
                dependencies.append(.entity(root(cluster: cluster), version: 1))
            } else {
                chosen.append((position - 3) / 3)
                dependencies.append(.key(key(base + chosen[0])))
            }
            var attempts = 0
            while dependencies.count < dependenciesPerKey, size > 2, attempts < 32 {
                attempts += 1
                let other = Int(random.next() % UInt64(size))
                guard other != position, !chosen.contains(other) else { continue }
                chosen.append(other)
                dependencies.append(.key(key(base + other)))
            }
            return (key(index), dependencies)
        }
    }
}

/// A small seeded generator, so benchmark and tests are repeatable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
