import CascadeWire

/// How a store is sized and how long its fences and leases live.
public struct StoreConfiguration: Sendable {
    /// Memory budget for entries and their tables; nil means unbounded.
    public var maxMemoryBytes: Int?
    /// Rounded up to a power of two; each shard has its own lock.
    public var shardCount: Int
    /// Entries sampled per eviction (Redis's maxmemory-samples).
    public var evictionSamples: Int
    public var leaseTTLMillis: Int64
    /// How long a key's invalidation is remembered after the key is gone, and how many.
    public var keyFenceRetentionMillis: Int64
    public var maxKeyFences: Int
    /// How long and how many entity-version fences are kept.
    public var entityFenceRetentionMillis: Int64
    public var maxEntityFences: Int
    /// The wall clock in milliseconds since 1970; tests inject a manual one.
    public var clock: @Sendable () -> Int64
    /// Key families and eviction classes (a node with a graph); `.none`: one class, no families.
    public var families: FamilyPolicy
    /// Estimated recent hits from which an invalidated key is hot (CacheStore.apply reports it).
    public var hotKeyMinHits: Int

    public init(
        maxMemoryBytes: Int? = nil,
        shardCount: Int = 128,
        evictionSamples: Int = 5,
        leaseTTLMillis: Int64 = 10_000,
        keyFenceRetentionMillis: Int64 = 60_000,
        maxKeyFences: Int = 1_000_000,
        entityFenceRetentionMillis: Int64 = 24 * 3_600_000,
        maxEntityFences: Int = 1_000_000,
        clock: @escaping @Sendable () -> Int64 = WallClock.nowMillis,
        families: FamilyPolicy = .none,
        hotKeyMinHits: Int = 8
    ) {
        self.families = families
        self.hotKeyMinHits = hotKeyMinHits
        self.maxMemoryBytes = maxMemoryBytes
        self.shardCount = shardCount
        self.evictionSamples = evictionSamples
        self.leaseTTLMillis = leaseTTLMillis
        self.keyFenceRetentionMillis = keyFenceRetentionMillis
        self.maxKeyFences = maxKeyFences
        self.entityFenceRetentionMillis = entityFenceRetentionMillis
        self.maxEntityFences = maxEntityFences
        self.clock = clock
    }
}

/// The NX / XX part of SET.
public enum SetCondition: Sendable {
    case always
    case ifAbsent
    case ifPresent
}

/// What SET does to the key's time to live.
public enum SetExpiry: Sendable, Equatable {
    case none
    /// Absolute time in ms since 1970.
    case at(Int64)
    case keep
}

public enum SetOutcome: Sendable, Equatable {
    case stored
    /// NX or XX did not hold.
    case notStored
    /// A dependency names a version below the node's fence, or the lease was voided.
    case stale(String)
    /// LEASE.SET with a token the node does not know or that expired.
    case noLease(String)
    /// The value alone does not fit the memory budget.
    case outOfMemory
}

public enum TimeToLive: Sendable, Equatable {
    case missing
    case persistent
    case millis(Int64)
}

public enum LeaseOutcome: Sendable, Equatable {
    case hit
    case miss(token: UInt64)
}

/// Dependencies of one stored key, kept beside the table only for keys set with DEPS.
struct EntryMeta {
    var setAtMillis: Int64
    var dependencies: [Dependency]
    /// Names this registration on the bus: its tombstone removes it there only if no newer
    /// registration of the key has arrived since.
    var incarnation: UInt64
    var tags: [String] { dependencies.map(\.tag) }
}

/// A registered key that is gone (deleted, expired, evicted, overwritten without DEPS,
/// invalidated), and the incarnation of the registration that described it.
public struct Tombstone: Sendable, Hashable {
    public var key: String
    public var incarnation: UInt64

    public init(key: String, incarnation: UInt64) {
        self.key = key
        self.incarnation = incarnation
    }
}

/// An outstanding lease on a missed key.
struct Lease {
    var token: UInt64
    var expiresAtMillis: Int64
    var dependencies: [Dependency]
}

/// The last invalidation of a key, remembered after the key is gone so that a lease issued
/// before it cannot write the old value back.
public struct KeyFence: Sendable, Equatable {
    /// Drawn from the same counter as lease tokens: a token below it was issued before.
    public var sequence: UInt64
    public var atMillis: Int64
    /// `Entity#id@version` of the cause, when known.
    public var cause: String?
    /// The fences this one replaced, newest first, at most `keptEarlier`: when each earlier
    /// cause was applied here (`cascade why`). Filled only when a fenced key is fenced again.
    public var earlier: [Applied] = []

    public struct Applied: Sendable, Equatable {
        public var atMillis: Int64
        public var cause: String?
    }

    static let keptEarlier = 4

    /// This fence replacing `previous`: the previous one joins the front of `earlier`.
    func replacing(_ previous: KeyFence) -> KeyFence {
        var next = self
        next.earlier = [Applied(atMillis: previous.atMillis, cause: previous.cause)] + previous.earlier.prefix(Self.keptEarlier - 1)
        return next
    }
}

/// What CASCADE.META reports about one key.
public struct KeyReport: Sendable, Equatable {
    public var exists: Bool
    public var setAtMillis: Int64?
    public var ttl: TimeToLive
    /// Each dependency with the node's fence version for its entity instance, if any.
    public var dependencies: [(dependency: Dependency, fence: UInt64?)]
    public var keyFence: KeyFence?
    /// The key's family number (0: none) and whether its TTL was the family's adaptive one.
    public var family: UInt16 = 0
    public var adaptiveTTL = false

    public static func == (lhs: KeyReport, rhs: KeyReport) -> Bool {
        lhs.exists == rhs.exists && lhs.setAtMillis == rhs.setAtMillis && lhs.ttl == rhs.ttl
            && lhs.dependencies.map(\.dependency) == rhs.dependencies.map(\.dependency)
            && lhs.dependencies.map(\.fence) == rhs.dependencies.map(\.fence) && lhs.keyFence == rhs.keyFence
            && lhs.family == rhs.family && lhs.adaptiveTTL == rhs.adaptiveTTL
    }
}

/// Counters summed over shards, for INFO and metrics.
public struct StoreStats: Sendable, Equatable {
    public var keys = 0
    public var keysWithExpiry = 0
    public var usedBytes = 0
    public var hits = 0
    public var misses = 0
    public var evictions = 0
    public var expired = 0
    public var leases = 0
    public var keyFences = 0
    public var entityFences = 0
    public var tags = 0

    public init() {}
}

/// What applying one invalidation message did.
public struct ApplyResult: Sendable, Equatable {
    public var keysRemoved = 0
    public var leasesVoided = 0
    public var fencesRaised = 0
    /// Removed keys that were among the hottest, with their estimated hits: refresh hints.
    public var hotKeys: [HotKey] = []
}
