import CascadeKafka
import Foundation
import CascadeTracing
import CascadeWire

/// Everything `cascade bus` is told on its command line.
public struct BusConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: Topics
    /// Where the instances commit their event offsets; none joins it as a member (ownership
    /// is decided from beacons, `PartitionOwnership`).
    public var groupID: String
    /// This instance's name among the bus instances, stable across restarts so that a restart
    /// gets its own partitions back; nil: the host name and a random suffix.
    public var instance: String?
    /// An instance whose beacons stop arriving for this long is gone: its partitions move.
    public var deadAfterMillis: Int64 = 500
    /// Replicas of each topic the bus creates; nil: the broker's default
    /// (`default.replication.factor`). With 2 or more, `min.insync.replicas` is one less, so
    /// that losing one broker loses neither registrations nor the ledger, nor stops writes.
    public var replicationFactor: Int?
    /// Partitions for topics the bus creates.
    public var partitions: Int
    /// Without a version, a registration whose dependency changed this close before the key
    /// was set is invalidated at once.
    public var raceWindowMillis: Int64
    /// Events for different instances from different origins whose `at` times are at most
    /// this far apart, reaching a common key of a circular component, are a conflict; 0 = off.
    public var cycleConflictWindowMillis: Int64
    /// How long a key whose value went while nothing depended on it keeps its edges: a value
    /// computed from it just before, registered within this, is still reached through it. It
    /// must cover the race window and how late a registration may land (20 s in a double fault).
    public var goneKeyGraceMillis: Int64 = 30_000
    public var maxKeysPerMessage: Int
    public var maxEventBytes: Int
    /// Most messages per consumer batch (events and state topics); the bench's pass-through
    /// reads with the same, so the two runs differ only by resolution.
    public var consumerBatch: Int = 4096
    /// Largest invalidation batch value (bytes). `cascade bench e2e` at 10,000 events/s: 64 KiB
    /// batches keep p99 near 60 ms; 512 KiB ones let nodes fall behind (p50 0.3-0.7 s).
    public var maxBatchBytes: Int = 64 * 1024
    /// Producer connections, each writing topics of its own (`KafkaProducerLanes`). 1 on the
    /// embedded broker, which serves every connection on one thread; about 4 on a network broker
    /// (docs/bus.md, "Latency under load").
    public var producerLanes: Int = 1
    /// Tasks resolving events at once, each owning whole partitions of `cascade.events`. One
    /// core is left to librdkafka's threads: on 2 cores `bench bus` did 56.7k events/s with
    /// one worker and 50.0k with two.
    public var workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
    /// Bytes the bus keeps of its recent cascades for `cascade why` (`CascadeMemory`).
    public var cascadeMemoryBytes: Int = CascadeMemory.defaultMaxBytes
    /// A span per event resolved, continuing the event's traceparent (`--otlp-endpoint`); nil: off.
    public var tracing: SpanStarter?
    /// Each instance holds the state (index, ledger) of the partitions it owns only, and
    /// cascades cross between instances as hops (docs/bus.md, "State by partition"). Off:
    /// every instance holds everything.
    public var partitionedState = false
    /// More topics consumed into the same pipeline, each with its format's decoder.
    public var sources: [SourceSpec] = []
    /// Hears, for each event, when its batch was fetched and when the messages it caused were
    /// handed to the producer (`bench e2e` breaks an event's latency down with it).
    public var onEventSent: (@Sendable (_ eventID: String, _ fetched: ContinuousClock.Instant, _ sent: ContinuousClock.Instant) -> Void)?
    /// Hears, after each batch of `cascade.deps` is in the index, how many registrations it
    /// held (`bench gateway` awaits its registrations with it before sending events).
    public var onIndexed: (@Sendable (_ registrations: Int) -> Void)?

    /// Every topic the events consumer subscribes to.
    var eventTopics: [String] { [topics.events] + sources.map(\.topic).filter { $0 != topics.events } }

    public init(
        kafka: KafkaConfiguration, topics: Topics = Topics(), groupID: String = "cascade-bus", partitions: Int = 6,
        raceWindowMillis: Int64 = 2000, maxKeysPerMessage: Int = 1000, maxEventBytes: Int = 64 * 1024,
        cycleConflictWindowMillis: Int64 = 1000
    ) {
        self.kafka = kafka
        self.topics = topics
        self.groupID = groupID
        self.partitions = partitions
        self.raceWindowMillis = raceWindowMillis
        self.cycleConflictWindowMillis = cycleConflictWindowMillis
        self.maxKeysPerMessage = maxKeysPerMessage
        self.maxEventBytes = maxEventBytes
    }
}
