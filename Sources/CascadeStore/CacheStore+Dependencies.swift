import CascadeWire

/// Leases, invalidations, fences and CASCADE.META.
extension CacheStore {
    /// LEASE.GET: the value on a hit; on a miss a token that LEASE.SET must present. The
    /// dependencies are attached to the lease, so invalidating any of them voids it. Without
    /// `serveHits` (a node that cannot vouch for its values) every call is a miss.
    public func leaseGet(
        _ key: UnsafeRawBufferPointer, dependencies: [Dependency] = [], serveHits: Bool = true,
        _ body: (UnsafeRawBufferPointer) -> Void
    ) -> LeaseOutcome {
        let hash = KeyHash.hash(key)
        let shard = shard(hash)
        let now = now
        let ttl = configuration.leaseTTLMillis
        return shard.lock.withLock {
            shard.leaseGet(
                key, hash: hash, dependencies: dependencies, now: now, leaseTTL: ttl,
                nextSequence: nextSequence, serveHits: serveHits, body)
        }
    }

    /// LEASE.SET: returns the outcome and the dependencies the stored value carries (those
    /// given here plus those named at LEASE.GET); `registered` hears the stored value's
    /// incarnation, for the registration.
    public func leaseSet(
        _ key: UnsafeRawBufferPointer, token: UInt64, value: UnsafeRawBufferPointer,
        expiry: SetExpiry = .none, dependencies: [Dependency] = [], registered: (UInt64) -> Void = { _ in }
    ) -> (outcome: SetOutcome, dependencies: [Dependency]) {
        let hash = KeyHash.hash(key)
        let shard = shard(hash)
        let now = now
        return shard.lock.withLock {
            shard.leaseSet(
                key, hash: hash, token: token, value: value, expiry: expiry,
                dependencies: dependencies, fences: fences, now: now, nextSequence: nextSequence, registered: registered)
        }
    }

    /// Applies one invalidation or conflict resolution, idempotently: raises fences first (so
    /// a racing SET of an older version is refused), then drops the listed keys and every key
    /// carrying a listed tag, voiding their leases and remembering a fence per key.
    @discardableResult
    public func apply(_ message: InvalidationMessage) -> ApplyResult {
        let now = now
        var result = ApplyResult()
        for fence in message.fences where fences.raise(fence.ref, to: fence.version, now: now) {
            result.fencesRaised += 1
        }
        let causeRef = "\(message.cause.entity)#\(message.cause.id)"
        if message.kind == .resolve, fences.raise(causeRef, to: message.cause.version, now: now) {
            result.fencesRaised += 1
        }
        // A race-check invalidation has no event: its cause is the key the value came from.
        let keyFence = KeyFence(
            sequence: nextSequence(), atMillis: now,
            cause: message.cause.entity.isEmpty ? message.cause.id : "\(causeRef)@\(message.cause.version)")
        for target in message.keys {
            var key = target.key
            key.withUTF8 { bytes in
                let raw = UnsafeRawBufferPointer(bytes)
                let hash = KeyHash.hash(raw)
                let shard = shard(hash)
                let (removed, voided) = shard.lock.withLock {
                    shard.invalidate(raw, hash: hash, fence: keyFence, now: now, hot: &result.hotKeys)
                }
                if removed { result.keysRemoved += 1 }
                if voided { result.leasesVoided += 1 }
            }
        }
        // The event's own entity tag spares values computed from its version or a later one
        // (stored before the event arrived): they are current, and dropping them would also
        // drop what was computed from them.
        let spareFrom = message.kind == .invalidate && !message.cause.entity.isEmpty ? message.cause.version : nil
        for tag in message.tags where tagPresence.mayHold(hash: TagPresence.hash(tag)) {
            let spare = tag == causeRef ? spareFrom : nil
            for shard in shards {
                let (removed, voided) = shard.lock.withLock {
                    shard.invalidate(tag: tag, fence: keyFence, now: now, hot: &result.hotKeys, spareFrom: spare)
                }
                result.keysRemoved += removed
                result.leasesVoided += voided
            }
        }
        return result
    }

    /// The fence version of an entity instance (`Entity#id`), if the node holds one.
    public func fence(of ref: String) -> UInt64? {
        fences.version(of: ref)
    }

    /// CASCADE.META: what `cascade check` compares with the ledger.
    public func report(_ key: UnsafeRawBufferPointer) -> KeyReport {
        let hash = KeyHash.hash(key)
        let shard = shard(hash)
        let now = now
        return shard.lock.withLock { shard.report(key, hash: hash, now: now, fences: fences) }
    }
}
