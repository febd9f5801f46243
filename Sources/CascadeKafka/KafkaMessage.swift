import NIOCore

/// A header on a Kafka message; a nil value is a header with no value.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }
}

/// A consumed message. Key and value are slices of one buffer per polled batch, so a batch
/// costs one allocation, not two per message. A nil value is a tombstone.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [KafkaHeader]
    /// Broker or producer timestamp in ms since 1970, when the message has one.
    public var timestampMillis: Int64?

    public init(
        topic: String, partition: Int32, offset: Int64, key: ByteBuffer?, value: ByteBuffer?,
        headers: [KafkaHeader] = [], timestampMillis: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMillis = timestampMillis
    }

    public var keyBytes: [UInt8]? { key.map { Array($0.readableBytesView) } }
    public var valueBytes: [UInt8]? { value.map { Array($0.readableBytesView) } }
    public var keyString: String? { key.map { String(buffer: $0) } }
    public var valueString: String? { value.map { String(buffer: $0) } }

    public func header(_ name: String) -> [UInt8]? {
        headers.first { $0.name == name }?.value
    }
}

/// Where a message landed, from the broker's acknowledgement.
public struct DeliveryReport: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A topic partition, with an offset where it matters.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64 = KafkaOffset.invalid) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// The offsets a partition holds as its leader said: from `low`, its first, to `high`, the
/// next one to be written (its end). `low == high`: nothing is left in it.
public struct PartitionWatermarks: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var low: Int64
    public var high: Int64

    public init(topic: String, partition: Int32, low: Int64, high: Int64) {
        self.topic = topic
        self.partition = partition
        self.low = low
        self.high = high
    }

    public var description: String { "\(topic)[\(partition)]@\(low)..<\(high)" }
}

/// librdkafka's logical offsets.
public enum KafkaOffset {
    public static let beginning: Int64 = -2
    public static let end: Int64 = -1
    public static let stored: Int64 = -1000
    public static let invalid: Int64 = -1001
}
