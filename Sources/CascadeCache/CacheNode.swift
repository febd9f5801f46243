import Atomics
import CascadeStore
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The node core: the store, what it publishes, and the counters INFO shows. The RESP server
/// runs commands against it on event-loop threads; the Kafka consumer feeds `apply`.
public final class CacheNode: Sendable {
    public let configuration: NodeConfiguration
    public let store: CacheStore
    public let counters = NodeCounters()
    /// How far the invalidation stream is applied (watermarks), for CASCADE.AFTER and staleness.
    public let positions = AppliedPositions()
    package let publisher: any RegistrationPublisher
    package let metrics = NodeMetrics()
    package let logger: Logger
    package let startedAtMillis: Int64
    /// This process's id on `cascade.deps`: incarnations of two processes never compare.
    public let nodeID: String
    private let listeningAddress = NIOLockedValueBox<String?>(nil)
    /// Bounded staleness: reads miss after this moment (ms) unless a watermark moves it on.
    /// Checked on every read, so a read never passes the bound by a maintenance tick.
    private let servesUntil = ManagedAtomic<Int64>(.max)
    /// Per-family metrics and adaptive TTLs, with `--graph`.
    package let familyMonitor: FamilyMonitor?
    /// When hot-key estimates were last halved.
    private let lastHotKeyDecay = ManagedAtomic<Int64>(0)
    /// How often hot-key estimates halve: hot means read often in the last tens of seconds.
    static let hotKeyHalfLifeMillis: Int64 = 10_000

    /// Where other processes reach this node: `--advertise`, or the address it listens on.
    public var advertisedAddress: String? {
        configuration.advertisedAddress ?? listeningAddress.withLockedValue { $0 }
    }

    /// Where the node's front end listens (the RESP server, or a gateway's HTTP server).
    public func listening(on host: String, port: Int) {
        // A wildcard bind is reached through the machine's name, not 0.0.0.0.
        let reachable = host == "0.0.0.0" || host == "::" ? (ProcessInfo.processInfo.hostName) : host
        listeningAddress.withLockedValue { $0 = "\(reachable):\(port)" }
    }

    public init(configuration: NodeConfiguration, publisher: any RegistrationPublisher, logger: Logger = Logger(label: "cascade.node")) {
        self.configuration = configuration
        self.store = CacheStore(configuration.store)
        self.publisher = publisher
        self.logger = logger
        self.startedAtMillis = WallClock.nowMillis()
        self.nodeID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        self.familyMonitor = configuration.families.map { FamilyMonitor(directory: $0) }
        familyMonitor?.start(store: store)
        lastHotKeyDecay.store(startedAtMillis, ordering: .relaxed)
        if let bound = configuration.maxStalenessMillis { servesUntil.store(startedAtMillis + bound, ordering: .relaxed) }
    }

    /// Whether reads may hit now: always without `--max-staleness`, else while the stream is
    /// confirmed current within the bound.
    @inline(__always)
    package func servesReads() -> Bool {
        configuration.maxStalenessMillis == nil || WallClock.nowMillis() <= servesUntil.load(ordering: .relaxed)
    }

    public var families: FamilyDirectory? { configuration.families }

    public var service: String { configuration.service }

    /// Applies one invalidation or conflict-resolution message (idempotent: applying it twice
    /// removes nothing more). Call it from the consumer, then set `counters.lastAppliedOffset`.
    @discardableResult
    public func apply(_ message: InvalidationMessage) -> ApplyResult {
        let result = store.apply(message)
        counters.recordApplied(keysRemoved: result.keysRemoved)
        metrics.invalidationsApplied.increment()
        metrics.keysInvalidated.increment(by: result.keysRemoved)
        let latency = WallClock.nowMillis() - message.cause.atMillis
        if message.cause.atMillis > 0, latency >= 0 {
            metrics.applyLatency.recordMilliseconds(latency)
        }
        if !result.hotKeys.isEmpty {
            let cause = RefreshHint.Cause(
                entity: message.cause.entity, id: message.cause.id, version: message.cause.version, eventID: message.cause.eventID)
            publisher.publishRefreshHints(service: service, hints: result.hotKeys.map { hot in
                RefreshHint(key: hot.key, family: families?.family(hot.family)?.name, hits: hot.hits, cause: cause)
            })
            metrics.refreshHints.increment(by: result.hotKeys.count)
        }
        return result
    }

    /// `SET key value PXAT expiresAt [DEPS ...]` for a front end other than RESP (the gateway):
    /// stored and, with dependencies, registered on `cascade.deps` with this node's id and the
    /// value's incarnation, exactly as the SET command does; `.notStored`, as SET refuses it,
    /// when the registration queue is full.
    public func set(_ key: String, _ value: [UInt8], expiresAtMillis: Int64?, dependencies: [Dependency]) -> SetOutcome {
        guard let claim = claimRegistration(keyBytes: key.utf8.count, dependencies) else { return .notStored }
        var incarnation: UInt64 = 0
        var keyBytes = key
        let outcome = keyBytes.withUTF8 { keyBuffer in
            value.withUnsafeBytes { valueBuffer in
                store.set(
                    UnsafeRawBufferPointer(keyBuffer), valueBuffer, expiry: expiresAtMillis.map { .at($0) } ?? .none,
                    dependencies: dependencies.isEmpty ? nil : dependencies, registered: { incarnation = $0 })
            }
        }
        if case .stored = outcome {
            register(key: key, claim: claim, lease: false, incarnation: incarnation)
        } else {
            release(claim)
        }
        return outcome
    }

    /// The value's bytes, copied out; nil on a miss.
    public func get(_ key: String) -> [UInt8]? {
        var keyBytes = key
        var found: [UInt8]?
        _ = keyBytes.withUTF8 { keyBuffer in store.get(UnsafeRawBufferPointer(keyBuffer)) { found = Array($0) } }
        return found
    }

    /// DEL; true when the key was there.
    @discardableResult
    public func delete(_ key: String) -> Bool {
        var keyBytes = key
        return keyBytes.withUTF8 { store.delete(UnsafeRawBufferPointer($0)) }
    }

    /// Room claimed in the registration queue before a value is stored, so that the node
    /// answers OK only for a registration it has queued.
    package struct RegistrationClaim {
        package let deps: [String]
        package let bytes: Int
    }

    /// Claims room for a key of `keyBytes` with `dependencies` (none needed without them); nil
    /// when the queue is at its bound: the command is refused with `registrationQueueFull`.
    package func claimRegistration(keyBytes: Int, _ dependencies: [Dependency]) -> RegistrationClaim? {
        guard !dependencies.isEmpty else { return RegistrationClaim(deps: [], bytes: 0) }
        let deps = dependencies.map(\.description)
        let bytes = Registration.queuedBytes(key: keyBytes, deps: deps)
        guard publisher.reserve(bytes: bytes) else {
            metrics.registrationsRefused.increment()
            counters.registrationsRefused.wrappingIncrement(ordering: .relaxed)
            return nil
        }
        return RegistrationClaim(deps: deps, bytes: bytes)
    }

    /// Gives back the room of a value that was not stored.
    package func release(_ claim: RegistrationClaim) {
        if claim.bytes > 0 { publisher.release(bytes: claim.bytes) }
    }

    /// Publishes what a stored value (or lease) depends on; `incarnation` is the one the store
    /// gave the value (or the lease token), so that its tombstone cannot erase a newer one.
    /// `deps` overrides the claim's (LEASE.SET registers the lease's dependencies too).
    package func register(key: String, claim: RegistrationClaim, deps: [String]? = nil, lease: Bool, incarnation: UInt64) {
        let deps = deps ?? claim.deps
        guard !deps.isEmpty else { return release(claim) }
        publisher.publish(Registration(
            service: service, key: key, deps: deps,
            setAtMillis: store.now, lease: lease, owner: RegistrationOwner(node: nodeID, incarnation: incarnation)), reserved: claim.bytes)
        metrics.registrations.increment()
    }

    /// The reply to a SET ... DEPS refused for want of room in the registration queue.
    package var registrationQueueFull: String {
        "TRYAGAIN registrations waiting for Kafka fill the node's queue (\(configuration.registrationQueueLimit) bytes); the value was not stored"
    }

    /// Applies the watermark that came with (or without) invalidations, after them.
    public func apply(_ watermark: SourceWatermark) {
        positions.apply(watermark)
        if let bound = configuration.maxStalenessMillis, let asOf = positions.currentAsOfMillis {
            servesUntil.store(asOf + bound, ordering: .relaxed)
        }
    }

    /// How far behind the node may be: now minus the moment as of which its invalidation
    /// stream is known complete; nil before the first watermark.
    public func stalenessMillis(now: Int64 = WallClock.nowMillis()) -> Int64? {
        positions.currentAsOfMillis.map { max(0, now - $0) }
    }

    /// Bounded staleness for INFO, metrics and the log, on the maintenance tick: past the
    /// bound (or, before any watermark, that long after start) reads miss (`servesReads`);
    /// back under it, they hit again.
    package func updateDegraded(now: Int64 = WallClock.nowMillis()) {
        guard let bound = configuration.maxStalenessMillis else { return }
        let behind = stalenessMillis(now: now) ?? (now - startedAtMillis)
        let degraded = behind > bound
        if degraded != counters.degraded {
            counters.degraded = degraded
            if degraded {
                logger.warning("invalidation stream not confirmed current: reads miss", metadata: ["behind_ms": "\(behind)"])
            } else {
                logger.info("invalidation stream current again: reads hit")
            }
        }
    }

    /// One maintenance tick: active expiry, tombstones of registered keys that are gone, gauges.
    public func maintain() {
        updateDegraded()
        store.sweepExpired()
        let gone = store.drainTombstones()
        if !gone.isEmpty {
            publisher.publishTombstones(service: service, node: nodeID, tombstones: gone)
            metrics.tombstones.increment(by: gone.count)
        }
        metrics.publish(store.stats(), lag: counters.lag)
        metrics.degraded.record(counters.degraded ? 1 : 0)
        let now = WallClock.nowMillis()
        familyMonitor?.tick(store: store, now: now)
        let lastDecay = lastHotKeyDecay.load(ordering: .relaxed)
        if now - lastDecay >= CacheNode.hotKeyHalfLifeMillis {
            lastHotKeyDecay.store(now, ordering: .relaxed)
            store.decayHotKeys()
        }
        metrics.staleness.record(Double(stalenessMillis() ?? 0) / 1000)
    }
}
