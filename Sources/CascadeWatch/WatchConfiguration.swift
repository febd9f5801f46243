import CascadeCheck
import CascadeKafka
import CascadeWire

/// What `cascade check --watch` (and the watcher of `cascade dev`) runs with.
public struct WatchConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: Topics
    /// The services whose invalidation topics are followed; empty: every `<prefix>inval.*`
    /// topic the broker has when the watcher starts.
    public var services: [String]
    public var sampler: WatchSampler
    /// How long after an invalidation was sent its keys are checked: the race window the
    /// system promises (the bus's `--race-window-ms`, 2 s by default).
    public var windowMillis: Int
    /// Checks waiting for their window, at most; more are counted as unchecked.
    public var maxPending: Int
    /// Password of the nodes (their `--requirepass`).
    public var requirepass: String?
    /// Seconds to wait for a node's reply.
    public var timeout: Double

    public init(
        kafka: KafkaConfiguration, topics: Topics = Topics(), services: [String] = [], sampleRate: Double = 0.01,
        windowMillis: Int = 2000, maxPending: Int = 100_000, requirepass: String? = nil, timeout: Double = 5
    ) {
        self.kafka = kafka
        self.topics = topics
        self.services = services
        self.sampler = WatchSampler(rate: sampleRate)
        self.windowMillis = windowMillis
        self.maxPending = maxPending
        self.requirepass = requirepass
        self.timeout = timeout
    }
}
