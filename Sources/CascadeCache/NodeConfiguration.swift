import CascadeStore
import CascadeTracing

/// How one cache node runs; `cascade node` fills it from its flags.
public struct NodeConfiguration: Sendable {
    public var service: String
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    public var store: StoreConfiguration
    /// How often expired keys are swept and tombstones published.
    public var maintenanceIntervalMillis: Int64
    /// Bounded staleness: with no confirmation for this long that the invalidation stream is
    /// current, reads miss until it is again. Nil: always serve.
    public var maxStalenessMillis: Int64?
    /// The `host:port` other processes reach this node at, in its reports; nil: the address
    /// it listens on.
    public var advertisedAddress: String?
    /// The service's families (`--graph`): keys are attributed to them, tiers order eviction,
    /// adaptive TTLs are learned. Nil: a node that knows no families.
    public var families: FamilyDirectory?
    /// Most bytes of registrations, tombstones and hints waiting for Kafka; past it, SET ...
    /// DEPS is refused with -TRYAGAIN rather than queued without bound.
    public var registrationQueueLimit: Int = NodeConfiguration.defaultRegistrationQueueLimit
    /// A span per applied invalidation that carries a sampled trace (`--otlp-endpoint`); nil: off.
    public var tracing: SpanStarter?
    public static let defaultRegistrationQueueLimit = 64 << 20

    public init(
        service: String, host: String = "127.0.0.1", port: Int = 6379, store: StoreConfiguration = StoreConfiguration(),
        maintenanceIntervalMillis: Int64 = 100, maxStalenessMillis: Int64? = nil, advertisedAddress: String? = nil,
        families: FamilyDirectory? = nil
    ) {
        self.families = families
        self.maxStalenessMillis = maxStalenessMillis
        self.advertisedAddress = advertisedAddress
        self.service = service
        self.host = host
        self.port = port
        var store = store
        if let families { store.families = families.policy }
        self.store = store
        self.maintenanceIntervalMillis = maintenanceIntervalMillis
    }
}
