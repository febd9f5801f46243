import CascadeWire
import NIOConcurrencyHelpers

/// One lock's worth of the store: the entry table plus the side tables of keys that have
/// dependencies or leases. Every method expects the caller to hold `lock`.
// @unchecked Sendable: its tables are touched only while `lock` is held, which the store takes around each call.
final class Shard: @unchecked Sendable {
    let lock = NIOLock()
    let table = EntryTable()
    let budget: Int
    let samples: Int
    let maxKeyFences: Int
    let keyFenceRetentionMillis: Int64
    /// Estimated hits from which an invalidated key counts as hot (and gets a refresh hint).
    let hotKeyMinHits: UInt32

    /// Counters touched on every command, behind a pointer to skip dynamic exclusivity checks.
    private struct HotCounters {
        var usedBytes = 0
        var tableBytes = 0
        var hits = 0
        var misses = 0
    }

    private let hot: UnsafeMutablePointer<HotCounters> = {
        let pointer = UnsafeMutablePointer<HotCounters>.allocate(capacity: 1)
        pointer.initialize(to: HotCounters())
        return pointer
    }()

    var usedBytes: Int {
        @inline(__always) get { hot.pointee.usedBytes }
        set { hot.pointee.usedBytes = newValue }
    }
    private var tableBytes: Int {
        get { hot.pointee.tableBytes }
        set { hot.pointee.tableBytes = newValue }
    }
    var hits: Int {
        get { hot.pointee.hits }
        set { hot.pointee.hits = newValue }
    }
    var misses: Int {
        get { hot.pointee.misses }
        set { hot.pointee.misses = newValue }
    }
    var meta: [StoreKey: EntryMeta] = [:]
    var entryTags: [String: Set<StoreKey>] = [:]
    var leases: [StoreKey: Lease] = [:]
    var leaseTags: [String: Set<StoreKey>] = [:]
    /// Shared by the store's shards: which tags any of them indexes (entries' or leases').
    let tagPresence: TagPresence
    var keyFences: [StoreKey: KeyFence] = [:]
    var keyFenceOrder = RetentionQueue<StoreKey>()
    /// Keys that were registered on the bus and are gone; drained and published in batches.
    var tombstones: [Tombstone] = []
    static let maxTombstones = 65_536

    var evictions = 0
    var expired = 0
    /// Keys and bytes per family number and bytes per eviction class, kept on every insert and
    /// removal; hits, misses and removals by cause per family number.
    let families: SharedFamilies
    let familyCounters: UnsafeMutablePointer<FamilyStats>
    let classBytes: UnsafeMutablePointer<Int>
    let classOf: UnsafeMutablePointer<UInt8>
    /// Per class: how many bytes of this shard's budget it may hold before it goes first.
    let classBudget: [Int]
    let hotKeys = HotKeySketch()
    /// Fingerprints of values last stored for keys of families that observe changes, by key
    /// hash: (value hash, stored at). Bounded: a full table forgets an arbitrary entry.
    var fingerprints: [UInt64: (value: UInt64, at: Int64)] = [:]
    static let maxFingerprints = 4_096
    var keysWithExpiry = 0
    var sweepCursor = 0
    var randomState: UInt64

    init(
        budget: Int, samples: Int, maxKeyFences: Int, keyFenceRetentionMillis: Int64, seed: UInt64,
        families: SharedFamilies = SharedFamilies(.none), hotKeyMinHits: Int = 8, tagPresence: TagPresence = TagPresence()
    ) {
        self.tagPresence = tagPresence
        self.hotKeyMinHits = UInt32(clamping: max(1, hotKeyMinHits))
        self.budget = budget
        self.families = families
        familyCounters = .allocate(capacity: families.familyCount + 1)
        familyCounters.initialize(repeating: FamilyStats(), count: families.familyCount + 1)
        classBytes = .allocate(capacity: families.classCount)
        classBytes.initialize(repeating: 0, count: families.classCount)
        classOf = .allocate(capacity: families.familyCount + 1)
        classOf.initialize(from: families.policy.evictionClass, count: families.familyCount + 1)
        classBudget = families.policy.classShares.map { share in
            budget == Int.max ? Int.max : Int(Double(budget) * max(0, min(1, share)))
        }
        self.samples = max(1, samples)
        self.maxKeyFences = max(1, maxKeyFences)
        self.keyFenceRetentionMillis = keyFenceRetentionMillis
        self.randomState = seed | 1
        syncTableBytes()
    }

    deinit {
        table.removeAll { $0.deallocate() }
        hot.deallocate()
        familyCounters.deallocate()
        classBytes.deallocate()
        classOf.deallocate()
    }

    /// The LRU clock: 100 ms steps, wrapping; ages are compared with wrapping subtraction.
    @inline(__always) static func lruClock(_ now: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: now / 100)
    }

    func syncTableBytesAfterReset() {
        tableBytes = table.byteSize
        usedBytes = tableBytes
    }

    func syncTableBytes() {
        usedBytes += table.byteSize - tableBytes
        tableBytes = table.byteSize
    }

    /// Finds a live key, dropping it first if its time is up (lazy expiry).
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> Int? {
        guard let slot = table.find(key, hash: hash) else { return nil }
        if let entry = table.entry(at: slot), entry.isExpired(now: now) {
            familyCounters[Int(entry.family)].expired += 1
            removeEntry(at: slot)
            expired += 1
            return nil
        }
        return slot
    }

    @inline(__always)
    func get(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let slot = lookup(key, hash: hash, now: now), let entry = table.entry(at: slot) else {
            misses += 1
            if families.familyCount > 0 { familyCounters[Int(families.policy.classify(key))].misses += 1 }
            return false
        }
        hits += 1
        let family = entry.family
        familyCounters[Int(family)].hits += 1
        hotKeys.record(key, hash: hash, family: family)
        entry.lru = Shard.lruClock(now)
        body(entry.value)
        return true
    }

    /// A key of a change-observing family is stored: compares the value with the one stored
    /// last time (if remembered) and counts a change or not over the time between.
    func observeStore(family: UInt16, hash: UInt64, value: UnsafeRawBufferPointer, now: Int64) {
        let fingerprint = KeyHash.hash(value)
        if let previous = fingerprints[hash], now > previous.at {
            if previous.value == fingerprint {
                familyCounters[Int(family)].storedUnchanged += 1
            } else {
                familyCounters[Int(family)].storedChanged += 1
            }
            familyCounters[Int(family)].storedIntervalMillis += Int(now - previous.at)
        } else if fingerprints.count >= Shard.maxFingerprints, let any = fingerprints.indices.first {
            fingerprints.remove(at: any)
        }
        fingerprints[hash] = (fingerprint, now)
    }

    /// Adds (`sign` 1) or takes away (-1) an entry from its family's and class's figures.
    @inline(__always)
    func account(_ entry: Entry, _ sign: Int) {
        let family = Int(entry.family)
        let footprint = entry.footprint
        familyCounters[family].keys += sign
        familyCounters[family].bytes += sign * footprint
        classBytes[Int(classOf[family])] += sign * footprint
    }

    /// The family number of a key about to be stored: the existing entry's, or the policy's.
    @inline(__always)
    func family(of key: UnsafeRawBufferPointer, existing: Entry?) -> UInt16 {
        if let existing { return existing.family }
        return families.familyCount > 0 ? families.policy.classify(key) : 0
    }

    func exists(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> Bool {
        lookup(key, hash: hash, now: now) != nil
    }

    func set(
        _ key: UnsafeRawBufferPointer, hash: UInt64, value: UnsafeRawBufferPointer,
        condition: SetCondition, expiry: SetExpiry, dependencies: [Dependency]?,
        fences: EntityFenceTable, now: Int64, nextSequence: () -> UInt64,
        previous: (UnsafeRawBufferPointer?) -> Void, registered: (UInt64) -> Void
    ) -> SetOutcome {
        let needed = Entry.footprint(ofSize: Entry.size(keyCount: key.count, valueCount: value.count, withExpiry: true))
        if needed > budget { return .outOfMemory }
        makeRoom(for: needed, now: now)
        let slot = lookup(key, hash: hash, now: now)
        let existing = slot.flatMap(table.entry(at:))
        previous(existing?.value)
        switch condition {
        case .ifAbsent where existing != nil, .ifPresent where existing == nil: return .notStored
        default: break
        }
        if let dependencies, let (dependency, fence) = fences.firstStale(dependencies) {
            return .stale("\(dependency) is older than the fence at version \(fence)")
        }
        let family = family(of: key, existing: existing)
        let expireAt: Int64?
        var adaptive: UInt32 = 0
        switch expiry {
        case .none:
            // A value stored without a TTL takes its family's (adaptive) one, if it has one.
            let ttl = families.familyCount > 0 ? families.defaultTTL(family) : 0
            expireAt = ttl > 0 ? now + ttl : nil
            if ttl > 0 { adaptive = Entry.adaptiveTTL }
        case .at(let time): expireAt = time
        case .keep:
            expireAt = existing?.expireAt
            adaptive = (existing?.flags ?? 0) & Entry.adaptiveTTL
        }
        if families.familyCount > 0 && families.observeChanges[Int(family)] {
            observeStore(family: family, hash: hash, value: value, now: now)
        }
        if let expireAt, expireAt <= now {
            // Redis semantics: a SET whose expiry is already past deletes the key.
            if let slot { removeEntry(at: slot) }
            return .stored
        }
        let flags = (dependencies != nil ? Entry.hasMeta : 0) | adaptive | Entry.familyBits(family)
        let lru = Shard.lruClock(now)
        if let slot, let existing {
            if existing.hasMeta { dropMeta(StoreKey(key), tombstone: dependencies == nil) }
            if existing.valueCount == value.count && (existing.expireAt != nil) == (expireAt != nil) {
                if let source = value.baseAddress, value.count > 0 {
                    existing.mutableValue.baseAddress?.copyMemory(from: source, byteCount: value.count)
                }
                existing.flags = (existing.flags & Entry.hasExpiry) | flags
                if let expireAt { existing.setExpireAt(expireAt) }
                existing.lru = lru
            } else {
                let fresh = Entry.allocate(key: key, value: value, expireAt: expireAt, flags: flags, lru: lru)
                table.replace(at: slot, with: fresh)
                usedBytes += fresh.footprint - existing.footprint
                account(existing, -1)
                account(fresh, 1)
                keysWithExpiry += (expireAt != nil ? 1 : 0) - (existing.expireAt != nil ? 1 : 0)
                existing.deallocate()
            }
        } else {
            let fresh = Entry.allocate(key: key, value: value, expireAt: expireAt, flags: flags, lru: lru)
            table.insert(fresh, hash: hash)
            usedBytes += fresh.footprint
            account(fresh, 1)
            if expireAt != nil { keysWithExpiry += 1 }
            syncTableBytes()
        }
        if let dependencies {
            // Drawn under the shard lock: a later SET of this key gets a higher incarnation.
            let incarnation = nextSequence()
            addMeta(StoreKey(key), EntryMeta(setAtMillis: now, dependencies: dependencies, incarnation: incarnation))
            registered(incarnation)
        }
        return .stored
    }

    /// Removes the entry at `slot`, publishing a tombstone if it was registered.
    func removeEntry(at slot: Int) {
        guard let entry = table.entry(at: slot) else { return }
        if entry.hasMeta { dropMeta(StoreKey(entry.key), tombstone: true) }
        if entry.expireAt != nil { keysWithExpiry -= 1 }
        usedBytes -= entry.footprint
        account(entry, -1)
        table.remove(at: slot)
        entry.deallocate()
        syncTableBytes()
    }

    func delete(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64, nextSequence: () -> UInt64) -> Bool {
        var removed = false
        if let slot = lookup(key, hash: hash, now: now) {
            removeEntry(at: slot)
            removed = true
        }
        // A delete is how cache-aside writers invalidate: it voids an outstanding lease too.
        if !leases.isEmpty {
            let storeKey = StoreKey(key)
            if leases[storeKey] != nil {
                recordKeyFence(storeKey, KeyFence(sequence: nextSequence(), atMillis: now, cause: nil), now: now)
                removeLease(storeKey)
            }
        }
        return removed
    }

    /// Sets (`at`) or removes (nil) the expiry of a live key. Returns false when the key is
    /// missing, or for PERSIST when it had no expiry.
    func setExpiry(_ key: UnsafeRawBufferPointer, hash: UInt64, at expireAt: Int64?, now: Int64) -> Bool {
        guard let slot = lookup(key, hash: hash, now: now), let entry = table.entry(at: slot) else { return false }
        if let expireAt {
            if expireAt <= now {
                removeEntry(at: slot)
                return true
            }
            if entry.expireAt != nil {
                entry.setExpireAt(expireAt)
                entry.flags &= ~Entry.adaptiveTTL
                return true
            }
        } else if entry.expireAt == nil {
            return false
        }
        // A TTL set or removed by the client is no longer the node's choice.
        let fresh = Entry.allocate(
            key: entry.key, value: entry.value, expireAt: expireAt, flags: entry.flags & ~Entry.adaptiveTTL, lru: entry.lru)
        table.replace(at: slot, with: fresh)
        usedBytes += fresh.footprint - entry.footprint
        account(entry, -1)
        account(fresh, 1)
        keysWithExpiry += expireAt != nil ? 1 : -1
        entry.deallocate()
        return true
    }

    func timeToLive(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> TimeToLive {
        guard let slot = lookup(key, hash: hash, now: now), let entry = table.entry(at: slot) else { return .missing }
        guard let expireAt = entry.expireAt else { return .persistent }
        return .millis(expireAt - now)
    }
}
