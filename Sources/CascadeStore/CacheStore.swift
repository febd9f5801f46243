import CascadeWire
import Synchronization

/// The in-memory store of one cache node: keys and values as bytes in power-of-two shards,
/// each under its own mutex, so commands run synchronously on the caller's thread and two
/// cores rarely meet on one lock. Keys with dependencies carry tags; invalidations drop keys
/// by name or tag, void leases and raise fences.
public final class CacheStore: Sendable {
    let shards: [Shard]
    /// The same shards, unretained: the hot paths borrow them without reference counting.
    nonisolated(unsafe) private let shardRefs: UnsafeMutablePointer<Unmanaged<Shard>>
    private let shardShift: UInt64
    let fences: EntityFenceTable
    let configuration: StoreConfiguration
    let families: SharedFamilies
    /// Lease tokens and key-fence sequences come from one counter, so "issued before the
    /// invalidation" is a comparison.
    private let sequence = Atomic<UInt64>(0)
    /// Which tags any shard indexes: an invalidation skips the sweep for a tag none holds.
    let tagPresence: TagPresence

    public init(_ configuration: StoreConfiguration = StoreConfiguration()) {
        var count = 1
        while count < max(1, configuration.shardCount) { count <<= 1 }
        let bits = UInt64(count.trailingZeroBitCount)
        shardShift = 64 - bits
        let budget = configuration.maxMemoryBytes.map { max(4096, $0 / count) } ?? Int.max
        let families = SharedFamilies(configuration.families)
        self.families = families
        let tagPresence = TagPresence()
        self.tagPresence = tagPresence
        shards = (0..<count).map { index in
            Shard(
                budget: budget, samples: configuration.evictionSamples,
                maxKeyFences: max(1, configuration.maxKeyFences / count),
                keyFenceRetentionMillis: configuration.keyFenceRetentionMillis,
                seed: UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15, families: families,
                hotKeyMinHits: configuration.hotKeyMinHits, tagPresence: tagPresence)
        }
        shardRefs = .allocate(capacity: shards.count)
        shardRefs.initialize(from: shards.map { Unmanaged.passUnretained($0) }, count: shards.count)
        fences = EntityFenceTable(
            retentionMillis: configuration.entityFenceRetentionMillis, maxCount: configuration.maxEntityFences)
        self.configuration = configuration
    }

    deinit { shardRefs.deallocate() }

    /// Runs `body` with the key's shard, borrowed without a retain (`shards` keeps them alive).
    @inline(__always)
    func withShard<Result>(_ hash: UInt64, _ body: (Shard) -> Result) -> Result {
        shardRefs[shardShift == 64 ? 0 : Int(truncatingIfNeeded: hash >> shardShift)]._withUnsafeGuaranteedRef(body)
    }

    @inline(__always)
    func shard(_ hash: UInt64) -> Shard {
        // Top bits pick the shard; the table uses the low bits, so the two stay independent.
        shards[shardShift == 64 ? 0 : Int(truncatingIfNeeded: hash >> shardShift)]
    }

    @inline(__always) public var now: Int64 { configuration.clock() }

    /// Lease tokens, key-fence sequences and incarnations: ordered by the counter in the high
    /// bits; the low 20 bits are random, so a client cannot guess another client's token.
    func nextSequence() -> UInt64 {
        sequence.wrappingAdd(1, ordering: .relaxed).newValue << 20 | UInt64.random(in: 0..<(1 << 20))
    }

    // MARK: Strings

    /// Calls `body` with the value's bytes while the shard is locked (copy them out, do not
    /// keep them). Returns false on a miss.
    @inline(__always)
    public func get(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        let hash = KeyHash.hash(key)
        let now = now
        return withShard(hash) { shard in shard.lock.withLock { shard.get(key, hash: hash, now: now, body) } }
    }

    /// SET with its options. `dependencies` (DEPS) must not be empty when given; they are
    /// checked against the fences under the shard lock, so an invalidation applied before the
    /// check refuses the value and one applied after removes it. `registered` hears the
    /// incarnation of a value stored with dependencies, under the same lock.
    public func set(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
        condition: SetCondition = .always, expiry: SetExpiry = .none, dependencies: [Dependency]? = nil,
        previous: (UnsafeRawBufferPointer?) -> Void = { _ in }, registered: (UInt64) -> Void = { _ in }
    ) -> SetOutcome {
        let hash = KeyHash.hash(key)
        let now = now
        let dependencies = dependencies?.isEmpty == true ? nil : dependencies
        return withShard(hash) { shard in
            shard.lock.withLock {
                shard.set(
                    key, hash: hash, value: value, condition: condition, expiry: expiry,
                    dependencies: dependencies, fences: fences, now: now, nextSequence: nextSequence,
                    previous: previous, registered: registered)
            }
        }
    }

    public func delete(_ key: UnsafeRawBufferPointer) -> Bool {
        withShard(of: key) { shard, hash, now in shard.delete(key, hash: hash, now: now, nextSequence: nextSequence) }
    }

    public func exists(_ key: UnsafeRawBufferPointer) -> Bool {
        withShard(of: key) { shard, hash, now in shard.exists(key, hash: hash, now: now) }
    }

    /// Sets the absolute expiry (ms since 1970); a time already past deletes the key.
    public func expire(_ key: UnsafeRawBufferPointer, at time: Int64) -> Bool {
        withShard(of: key) { shard, hash, now in shard.setExpiry(key, hash: hash, at: time, now: now) }
    }

    public func persist(_ key: UnsafeRawBufferPointer) -> Bool {
        withShard(of: key) { shard, hash, now in shard.setExpiry(key, hash: hash, at: nil, now: now) }
    }

    public func timeToLive(_ key: UnsafeRawBufferPointer) -> TimeToLive {
        withShard(of: key) { shard, hash, now in shard.timeToLive(key, hash: hash, now: now) }
    }

    /// Runs `body` under the lock of the key's shard, with the key's hash and the time read
    /// once before locking (the single-key commands all take this path).
    @inline(__always)
    func withShard<Result>(of key: UnsafeRawBufferPointer, _ body: (Shard, UInt64, Int64) -> Result) -> Result {
        let hash = KeyHash.hash(key)
        let shard = shard(hash)
        let now = now
        return shard.lock.withLock { body(shard, hash, now) }
    }

    public var count: Int {
        shards.reduce(0) { total, shard in total + shard.lock.withLock { shard.table.count } }
    }

    public func removeAll() {
        for shard in shards { shard.lock.withLock { shard.removeAll() } }
    }

    /// Iterates live keys. The cursor is 0 to start and 0 when done; keys present for the
    /// whole scan are returned at least once unless a shard's table was resized in between.
    public func scan(cursor: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> UInt64 {
        var shardIndex = Int(cursor >> 40)
        var slot = Int(cursor & 0xFF_FFFF_FFFF)
        var remaining = max(1, count)
        let now = now
        while shardIndex < shards.count {
            let shard = shards[shardIndex]
            var seen = 0
            let next = shard.lock.withLock {
                shard.scan(from: slot, count: remaining, now: now) { key in
                    seen += 1
                    body(key)
                }
            }
            remaining -= seen
            if let next { return UInt64(shardIndex) << 40 | UInt64(next) }
            shardIndex += 1
            slot = 0
            if remaining <= 0 { return shardIndex < shards.count ? UInt64(shardIndex) << 40 : 0 }
        }
        return 0
    }

    public func stats() -> StoreStats {
        var stats = StoreStats()
        for shard in shards { shard.lock.withLock { shard.addStats(to: &stats) } }
        stats.entityFences = fences.count
        return stats
    }

    /// Per family number (0...familyCount), summed over the shards.
    public func familyStats() -> [FamilyStats] {
        var stats = Array(repeating: FamilyStats(), count: families.familyCount + 1)
        for shard in shards { shard.lock.withLock { shard.addFamilyStats(to: &stats) } }
        return stats
    }

    /// Bytes of entries per eviction class, summed over the shards.
    public func classBytes() -> [Int] {
        var bytes = Array(repeating: 0, count: families.classCount)
        for shard in shards {
            shard.lock.withLock {
                for index in bytes.indices { bytes[index] += shard.classBytes[index] }
            }
        }
        return bytes
    }

    /// The `count` hottest keys (most estimated recent hits first) among every shard's list.
    public func hotKeys(_ count: Int) -> [HotKey] {
        var all: [HotKey] = []
        for shard in shards {
            shard.lock.withLock {
                for candidate in shard.hotKeys.top {
                    all.append(HotKey(key: String(decoding: candidate.key, as: UTF8.self), family: candidate.family, hits: Int(candidate.hits)))
                }
            }
        }
        all.sort { $0.hits != $1.hits ? $0.hits > $1.hits : $0.key < $1.key }
        return Array(all.prefix(max(0, count)))
    }

    /// Halves the hot-key estimates: called on a timer, so that hot means read often lately.
    public func decayHotKeys() {
        for shard in shards { shard.lock.withLock { shard.hotKeys.decay() } }
    }

    /// The TTL (ms; 0 or less: none) that values of `family` stored without one get.
    public func setDefaultTTL(family: UInt16, milliseconds: Int64) {
        families.setDefaultTTL(family, milliseconds)
    }

    public func defaultTTL(family: UInt16) -> Int64 {
        families.defaultTTL(family)
    }

    /// Active expiry over every shard; the node calls it on a timer (Redis: 10 times a second).
    @discardableResult
    public func sweepExpired(slotsPerShard: Int = 256) -> Int {
        let now = now
        fences.purge(now: now)
        return shards.reduce(0) { total, shard in
            total + shard.lock.withLock { shard.sweep(now: now, slots: slotsPerShard) }
        }
    }

    /// Keys that had been registered with dependencies and are gone (deleted, expired,
    /// evicted, overwritten without DEPS, invalidated): the node publishes tombstones for them.
    public func drainTombstones() -> [Tombstone] {
        shards.flatMap { shard in shard.lock.withLock { shard.drainTombstones() } }
    }
}
