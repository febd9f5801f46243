/// One message the bus wants on a topic. Kafka-free so the pipeline core is tested without a broker.
public struct OutboundMessage: Sendable, Hashable {
    public var topic: String
    public var key: [UInt8]?
    /// Nil is a tombstone.
    public var value: [UInt8]?
    public var headers: [Header]
    /// Set on an invalidation message: the service it is for. The bus sends these batched
    /// with other events' invalidations for that service, not one by one.
    public var service: String?
    /// Where it must go when its key alone does not say (state records and hops are placed by
    /// Kafka's default partitioner, or by the partition of the event they come from).
    public var partition: Int32?

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: [UInt8]

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = Array(value.utf8)
        }
    }

    public init(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [Header] = [], service: String? = nil, partition: Int32? = nil
    ) {
        self.partition = partition
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.service = service
    }

    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

/// Where a consumed message came from, for dead-letter headers.
public struct SourcePosition: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}
