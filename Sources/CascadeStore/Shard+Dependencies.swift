import CascadeWire

/// Tags, leases and key fences of one shard. The caller holds the shard's lock.
extension Shard {
    static func metaCost(_ key: StoreKey, _ meta: EntryMeta) -> Int {
        96 + key.bytes.count + meta.dependencies.reduce(0) { $0 + 64 + $1.tag.utf8.count }
    }

    func addMeta(_ key: StoreKey, _ entryMeta: EntryMeta) {
        meta[key] = entryMeta
        for tag in entryMeta.tags { Self.index(tag, key, in: &entryTags, tagPresence) }
        usedBytes += Shard.metaCost(key, entryMeta)
    }

    func dropMeta(_ key: StoreKey, tombstone: Bool) {
        guard let entryMeta = meta.removeValue(forKey: key) else { return }
        for tag in entryMeta.tags { Self.unindex(tag, key, in: &entryTags, tagPresence) }
        usedBytes -= Shard.metaCost(key, entryMeta)
        if tombstone && tombstones.count < Shard.maxTombstones {
            tombstones.append(Tombstone(key: key.text, incarnation: entryMeta.incarnation))
        }
    }

    func removeLease(_ key: StoreKey) {
        guard let lease = leases.removeValue(forKey: key) else { return }
        for dependency in lease.dependencies { Self.unindex(dependency.tag, key, in: &leaseTags, tagPresence) }
    }

    /// Adds `key` under `tag` in one of the tag indexes, telling `presence` first when the
    /// shard starts indexing the tag.
    static func index(_ tag: String, _ key: StoreKey, in tags: inout [String: Set<StoreKey>], _ presence: TagPresence) {
        if tags[tag]?.insert(key) == nil {
            presence.add(tag)
            tags[tag] = [key]
        }
    }

    /// Removes `key` from under `tag`, telling `presence` once the shard no longer indexes it.
    static func unindex(_ tag: String, _ key: StoreKey, in tags: inout [String: Set<StoreKey>], _ presence: TagPresence) {
        guard tags[tag]?.remove(key) != nil, tags[tag]?.isEmpty == true else { return }
        tags[tag] = nil
        presence.remove(tag)
    }

    func recordKeyFence(_ key: StoreKey, _ fence: KeyFence, now: Int64) {
        let current = keyFences[key]
        if let current, current.sequence >= fence.sequence { return }
        keyFences[key] = current.map { fence.replacing($0) } ?? fence
        keyFenceOrder.append(key, atMillis: fence.atMillis)
        purgeKeyFences(now: now)
    }

    func purgeKeyFences(now: Int64) {
        let retention = keyFenceRetentionMillis
        let maxCount = maxKeyFences
        keyFenceOrder.drop(while: { at in self.keyFences.count > maxCount || at + retention <= now }) { key, at in
            if let fence = keyFences[key], fence.atMillis == at { keyFences[key] = nil }
        }
    }

    /// Drops a key and voids its lease because of an invalidation; remembers the fence.
    /// Returns whether an entry was removed and whether a lease was voided.
    func invalidate(
        _ key: UnsafeRawBufferPointer, hash: UInt64, fence: KeyFence, now: Int64, hot: inout [HotKey]
    ) -> (removed: Bool, voided: Bool) {
        var removed = false
        if let slot = table.find(key, hash: hash) {
            removeInvalidated(at: slot, key: key, hash: hash, hot: &hot)
            removed = true
        }
        let storeKey = StoreKey(key)
        recordKeyFence(storeKey, fence, now: now)
        let voided = leases[storeKey] != nil
        removeLease(storeKey)
        return (removed, voided)
    }

    /// Drops every key carrying `tag` and voids every lease that named it.
    /// `spareFrom`: the version of the change that drops the tag (`Entity#id`); a value stored
    /// with `DEPS Entity#id@v`, v at least that, was computed from the change and stays.
    func invalidate(tag: String, fence: KeyFence, now: Int64, hot: inout [HotKey], spareFrom: UInt64? = nil) -> (removed: Int, voided: Int) {
        var removed = 0
        var voided = 0
        if let keys = entryTags[tag] {
            var spared: Set<StoreKey> = []
            for key in keys {
                if let spareFrom, holdsVersion(key, of: tag, atLeast: spareFrom) {
                    spared.insert(key)
                    continue
                }
                let hash = key.bytes.withUnsafeBytes { KeyHash.hash($0) }
                key.bytes.withUnsafeBytes { bytes in
                    if let slot = table.find(bytes, hash: hash) {
                        removeInvalidated(at: slot, key: bytes, hash: hash, hot: &hot)
                        removed += 1
                    }
                }
                recordKeyFence(key, fence, now: now)
            }
            // Removing the keys usually unindexed the tag already (and told the filter).
            if !spared.isEmpty {
                entryTags[tag] = spared
            } else if entryTags.removeValue(forKey: tag) != nil {
                tagPresence.remove(tag)
            }
        }
        if let keys = leaseTags[tag] {
            for key in keys {
                recordKeyFence(key, fence, now: now)
                removeLease(key)
                voided += 1
            }
        }
        return (removed, voided)
    }

    /// Whether the key's value names `tag` (an entity) at `version` or later in its `DEPS`.
    private func holdsVersion(_ key: StoreKey, of tag: String, atLeast version: UInt64) -> Bool {
        meta[key]?.dependencies.contains { dependency in
            if case .entity(_, let held?) = dependency { return held >= version && dependency.tag == tag }
            return false
        } ?? false
    }

    /// Removes an invalidated entry; if it was among the shard's hottest keys, it joins `hot`
    /// (the node sends a refresh hint for it).
    private func removeInvalidated(at slot: Int, key: UnsafeRawBufferPointer, hash: UInt64, hot: inout [HotKey]) {
        guard let entry = table.entry(at: slot) else { return }
        familyCounters[Int(entry.family)].invalidations += 1
        if let hits = hotKeys.hits(of: key, hash: hash) {
            if hits >= hotKeyMinHits {
                hot.append(HotKey(key: String(decoding: key, as: UTF8.self), family: entry.family, hits: Int(hits)))
            }
            hotKeys.forget(key, hash: hash)
        }
        removeEntry(at: slot)
    }

    func leaseGet(
        _ key: UnsafeRawBufferPointer, hash: UInt64, dependencies: [Dependency], now: Int64, leaseTTL: Int64,
        nextSequence: () -> UInt64, serveHits: Bool, _ body: (UnsafeRawBufferPointer) -> Void
    ) -> LeaseOutcome {
        if serveHits, get(key, hash: hash, now: now, body) { return .hit }
        let storeKey = StoreKey(key)
        if var lease = leases[storeKey], lease.expiresAtMillis > now,
           (keyFences[storeKey]?.sequence ?? 0) < lease.token {
            // Concurrent missers share the lease; each adds what it depends on.
            for dependency in dependencies where !lease.dependencies.contains(dependency) {
                lease.dependencies.append(dependency)
                Self.index(dependency.tag, storeKey, in: &leaseTags, tagPresence)
            }
            leases[storeKey] = lease
            return .miss(token: lease.token)
        }
        removeLease(storeKey)
        let token = nextSequence()
        leases[storeKey] = Lease(token: token, expiresAtMillis: now + leaseTTL, dependencies: dependencies)
        for dependency in dependencies { Self.index(dependency.tag, storeKey, in: &leaseTags, tagPresence) }
        return .miss(token: token)
    }

    /// Stores a value under a lease: refused as stale when the key (or a dependency the lease
    /// named) was invalidated after the token was issued.
    func leaseSet(
        _ key: UnsafeRawBufferPointer, hash: UInt64, token: UInt64, value: UnsafeRawBufferPointer,
        expiry: SetExpiry, dependencies: [Dependency], fences: EntityFenceTable, now: Int64,
        nextSequence: () -> UInt64, registered: (UInt64) -> Void
    ) -> (outcome: SetOutcome, dependencies: [Dependency]) {
        let storeKey = StoreKey(key)
        let fence = keyFences[storeKey]
        guard let lease = leases[storeKey], lease.token == token, lease.expiresAtMillis > now else {
            if let fence, token < fence.sequence {
                return (.stale("the key was invalidated after lease \(token) was issued"), dependencies)
            }
            return (.noLease("no lease \(token) for this key, or it expired"), dependencies)
        }
        if let fence, fence.sequence > token {
            removeLease(storeKey)
            return (.stale("the key was invalidated after lease \(token) was issued"), dependencies)
        }
        var all = dependencies
        for dependency in lease.dependencies where !all.contains(dependency) { all.append(dependency) }
        let outcome = set(
            key, hash: hash, value: value, condition: .always, expiry: expiry,
            dependencies: all.isEmpty ? nil : all, fences: fences, now: now, nextSequence: nextSequence,
            previous: { _ in }, registered: registered)
        if outcome != .outOfMemory { removeLease(storeKey) }
        return (outcome, all)
    }

    func report(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64, fences: EntityFenceTable) -> KeyReport {
        let ttl = timeToLive(key, hash: hash, now: now)
        let storeKey = StoreKey(key)
        let entryMeta = ttl == .missing ? nil : meta[storeKey]
        let dependencies = (entryMeta?.dependencies ?? []).map { dependency -> (Dependency, UInt64?) in
            if case .entity(let ref, _) = dependency { return (dependency, fences.version(of: ref.description)) }
            return (dependency, nil)
        }
        let entry = ttl == .missing ? nil : table.find(key, hash: hash).flatMap(table.entry(at:))
        return KeyReport(
            exists: ttl != .missing, setAtMillis: entryMeta?.setAtMillis, ttl: ttl,
            dependencies: dependencies, keyFence: keyFences[storeKey],
            family: entry?.family ?? 0, adaptiveTTL: (entry?.flags ?? 0) & Entry.adaptiveTTL != 0)
    }
}
