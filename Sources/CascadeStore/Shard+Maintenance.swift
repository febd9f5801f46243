/// Eviction, active expiry, iteration and flushing of one shard. The caller holds the lock.
extension Shard {
    @inline(__always)
    func nextRandom() -> UInt64 {
        // xorshift64*: cheap, and only picks eviction samples.
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        return randomState &* 0x2545_F491_4F6C_DD1D
    }

    /// Evicts until `bytes` more fit the budget (Redis's sampled LRU: the oldest of a few
    /// random entries goes; an expired one goes first). With eviction classes, the sample is
    /// drawn from the class that goes first (see `victimClass`).
    func makeRoom(for bytes: Int, now: Int64) {
        guard budget != Int.max else { return }
        while usedBytes + bytes > budget && table.count > 0 {
            evictOne(now: now)
        }
    }

    /// The eviction class that loses the next key: the lowest one holding more than its share
    /// of the budget; when none does (the tables' own bytes count for no class), the lowest
    /// one with keys. Nil with a single class.
    func victimClass() -> Int? {
        let classes = families.classCount
        guard classes > 1 else { return nil }
        var lowestWithKeys: Int?
        for index in 0..<classes where classBytes[index] > 0 {
            if classBytes[index] > classBudget[index] { return index }
            if lowestWithKeys == nil { lowestWithKeys = index }
        }
        return lowestWithKeys
    }

    private func evictOne(now: Int64) {
        let clock = Shard.lruClock(now)
        let mask = table.capacity - 1
        let wanted = victimClass()
        var victim = -1
        var victimAge: UInt32 = 0
        var sampled = 0
        // Looking for the wanted class may take more probes than `samples`; bounded, after
        // which the oldest entry seen of any class goes.
        var probes = wanted == nil ? samples : samples * 16
        var fallback = -1
        var fallbackAge: UInt32 = 0
        while sampled < samples && probes > 0 {
            probes -= 1
            var slot = Int(truncatingIfNeeded: nextRandom()) & mask
            while table.entry(at: slot) == nil { slot = (slot &+ 1) & mask }
            guard let entry = table.entry(at: slot) else { continue }
            if entry.isExpired(now: now) {
                victim = slot
                break
            }
            let age = clock &- entry.lru
            if let wanted, Int(classOf[Int(entry.family)]) != wanted {
                if fallback < 0 || age > fallbackAge {
                    fallback = slot
                    fallbackAge = age
                }
                continue
            }
            sampled += 1
            if victim < 0 || age > victimAge {
                victim = slot
                victimAge = age
            }
        }
        if victim < 0 { victim = fallback }
        guard victim >= 0, let entry = table.entry(at: victim) else { return }
        familyCounters[Int(entry.family)].evictions += 1
        removeEntry(at: victim)
        evictions += 1
    }

    /// Active expiry: examines up to `slots` table slots from a rotating cursor and drops
    /// expired keys, so memory of keys nobody reads again comes back. Also forgets expired
    /// leases and old key fences.
    @discardableResult
    func sweep(now: Int64, slots: Int) -> Int {
        var removed = 0
        if keysWithExpiry > 0 {
            var slot = sweepCursor
            var examined = 0
            while examined < slots && table.count > 0 {
                if slot >= table.capacity { slot = 0 }
                if let entry = table.entry(at: slot), entry.isExpired(now: now) {
                    // Backward shift may move a later entry into this slot: look again.
                    familyCounters[Int(entry.family)].expired += 1
                    removeEntry(at: slot)
                    expired += 1
                    removed += 1
                } else {
                    slot += 1
                }
                examined += 1
            }
            sweepCursor = slot
        }
        if !leases.isEmpty {
            for (key, lease) in leases where lease.expiresAtMillis <= now { removeLease(key) }
        }
        purgeKeyFences(now: now)
        return removed
    }

    /// Calls `body` with live keys from `slot` on until `count` keys were seen; returns the
    /// slot to continue from, or nil when the shard is done.
    func scan(from slot: Int, count: Int, now: Int64, _ body: (UnsafeRawBufferPointer) -> Void) -> Int? {
        var slot = slot
        var seen = 0
        while slot < table.capacity && seen < count {
            if let entry = table.entry(at: slot), !entry.isExpired(now: now) {
                body(entry.key)
                seen += 1
            }
            slot += 1
        }
        return slot >= table.capacity ? nil : slot
    }

    func removeAll() {
        table.removeAll { entry in
            if entry.hasMeta && tombstones.count < Shard.maxTombstones,
               let entryMeta = meta[StoreKey(entry.key)] {
                tombstones.append(Tombstone(key: String(decoding: entry.key, as: UTF8.self), incarnation: entryMeta.incarnation))
            }
            entry.deallocate()
        }
        meta = [:]
        for tag in entryTags.keys { tagPresence.remove(tag) }
        entryTags = [:]
        keysWithExpiry = 0
        for family in 0...families.familyCount {
            familyCounters[family].keys = 0
            familyCounters[family].bytes = 0
        }
        classBytes.update(repeating: 0, count: families.classCount)
        fingerprints = [:]
        hotKeys.removeAll()
        usedBytes = 0
        syncTableBytesAfterReset()
    }

    func drainTombstones() -> [Tombstone] {
        defer { tombstones = [] }
        return tombstones
    }

    func addStats(to stats: inout StoreStats) {
        stats.keys += table.count
        stats.keysWithExpiry += keysWithExpiry
        stats.usedBytes += usedBytes
        stats.hits += hits
        stats.misses += misses
        stats.evictions += evictions
        stats.expired += expired
        stats.leases += leases.count
        stats.keyFences += keyFences.count
        stats.tags += entryTags.count
    }

    /// Adds this shard's per-family figures to `stats` (indexed by family number).
    func addFamilyStats(to stats: inout [FamilyStats]) {
        for family in 0..<min(stats.count, families.familyCount + 1) {
            let counters = familyCounters[family]
            stats[family].keys += counters.keys
            stats[family].bytes += counters.bytes
            stats[family].hits += counters.hits
            stats[family].misses += counters.misses
            stats[family].evictions += counters.evictions
            stats[family].invalidations += counters.invalidations
            stats[family].expired += counters.expired
            stats[family].storedChanged += counters.storedChanged
            stats[family].storedUnchanged += counters.storedUnchanged
            stats[family].storedIntervalMillis += counters.storedIntervalMillis
        }
    }
}
