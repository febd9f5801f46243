/// The value of a message on `cascade.inval.<service>`: the invalidations of one or more
/// events, in the order the bus processed them, and how far they bring the service:
/// `{"invalidations":[message, ...],"watermark":{"partition":3,"through":1234,"at_ms":...}}`.
/// One Kafka message per service per batch of events instead of one per event: at full load
/// the bus would otherwise produce several messages for every event it consumes. A batch with
/// no invalidations and a watermark tells an idle service that it is not behind.
public enum InvalidationBatch {
    private struct Envelope: Codable {
        var invalidations: [InvalidationMessage]
        var watermark: SourceWatermark?
    }

    /// The messages in a value and its watermark, if any: a batch, or a single bare message
    /// (what hand-written producers and tests send).
    public static func read(_ bytes: [UInt8]) throws -> (invalidations: [InvalidationMessage], watermark: SourceWatermark?) {
        if let read = InvalidationBatchReader.read(bytes) { return read }
        if let envelope = try? WireJSON.decode(Envelope.self, bytes) { return (envelope.invalidations, envelope.watermark) }
        return ([try InvalidationMessage.decode(bytes)], nil)
    }

    /// The messages in a value.
    public static func decode(_ bytes: [UInt8]) throws -> [InvalidationMessage] {
        try read(bytes).invalidations
    }

    public static func encode(_ messages: [InvalidationMessage], watermark: SourceWatermark? = nil) -> [UInt8] {
        var writer = Writer()
        for message in messages { writer.append(encodedMessage: message.fastEncoded()) }
        return writer.finish(watermark: watermark)
    }

    /// Builds a batch from messages already encoded one by one (the bus encodes each event's
    /// message once, then only copies bytes).
    public struct Writer: Sendable {
        private var bytes: [UInt8] = []
        public private(set) var count = 0

        public init() {}

        /// Bytes so far, to cap a batch's size.
        public var byteCount: Int { bytes.count }

        public mutating func append(encodedMessage: [UInt8]) {
            if count == 0 {
                bytes.reserveCapacity(encodedMessage.count * 8 + 96)
                bytes.append(contentsOf: Self.opening)
            } else {
                bytes.append(0x2C)
            }
            bytes.append(contentsOf: encodedMessage)
            count += 1
        }

        /// The value, with the watermark it brings; the writer starts over empty.
        public mutating func finish(watermark: SourceWatermark? = nil) -> [UInt8] {
            if count == 0 { bytes.append(contentsOf: Self.opening) }
            bytes.append(0x5D)
            if let watermark {
                bytes.append(contentsOf: Array(",\"watermark\":{\"partition\":\(watermark.partition),\"through\":\(watermark.through),\"at_ms\":\(watermark.atMillis)}".utf8))
            }
            bytes.append(0x7D)
            defer {
                bytes = []
                count = 0
            }
            return bytes
        }

        private static let opening: [UInt8] = Array("{\"invalidations\":[".utf8)
    }
}

/// How far the bus has brought one service along one partition of the events topic: every
/// event of `partition` up to offset `through` is processed, and what it caused for the
/// service is in this message or before it on the same partition of the service's topic.
/// `atMillis` is the bus's clock at the last time it saw the partition's end and had
/// processed up to it: nothing published before then is missing. Nodes answer
/// `CASCADE.AFTER` from `through` and judge their staleness by `atMillis`.
public struct SourceWatermark: Codable, Sendable, Hashable {
    public var partition: Int32
    public var through: Int64
    public var atMillis: Int64

    public init(partition: Int32, through: Int64, atMillis: Int64) {
        self.partition = partition
        self.through = through
        self.atMillis = atMillis
    }

    enum CodingKeys: String, CodingKey {
        case partition, through, atMillis = "at_ms"
    }
}
