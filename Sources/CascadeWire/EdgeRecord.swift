/// A record of the edges topic: the dependencies of `key` that lie in `partition` (the
/// partition of each dependency's own name), produced to that partition. Empty: the key has no
/// edge there any more (a tombstone on the wire). Compacted per key and partition, so the last
/// record of each is the state a share rebuilds from.
public struct EdgeRecord: Sendable, Hashable {
    public var key: CacheKeyRef
    public var partition: Int32
    public var dependencies: [Dependency]

    public init(key: CacheKeyRef, partition: Int32, dependencies: [Dependency]) {
        self.key = key
        self.partition = partition
        self.dependencies = dependencies
    }
}
