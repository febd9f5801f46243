/// The value of a message on `cascade.inval.<service>`: the invalidations of one or more
/// events, in the order the bus processed them, as `{"invalidations":[message, ...]}`.
/// One Kafka message per service per batch of events instead of one per event: at full load
/// the bus would otherwise produce several messages for every event it consumes.
public enum InvalidationBatch {
    private struct Envelope: Codable {
        var invalidations: [InvalidationMessage]
    }

    /// The messages in a value: a batch, or a single bare message (what hand-written
    /// producers and tests send).
    public static func decode(_ bytes: [UInt8]) throws -> [InvalidationMessage] {
        if let envelope = try? WireJSON.decode(Envelope.self, bytes) { return envelope.invalidations }
        return [try InvalidationMessage.decode(bytes)]
    }

    public static func encode(_ messages: [InvalidationMessage]) -> [UInt8] {
        var writer = Writer()
        for message in messages { writer.append(encodedMessage: message.fastEncoded()) }
        return writer.finish()
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
                bytes.reserveCapacity(encodedMessage.count * 8 + 24)
                bytes.append(contentsOf: Self.opening)
            } else {
                bytes.append(0x2C)
            }
            bytes.append(contentsOf: encodedMessage)
            count += 1
        }

        /// The value; the writer starts over empty.
        public mutating func finish() -> [UInt8] {
            if count == 0 { bytes.append(contentsOf: Self.opening) }
            bytes.append(contentsOf: [0x5D, 0x7D])
            defer {
                bytes = []
                count = 0
            }
            return bytes
        }

        private static let opening: [UInt8] = Array("{\"invalidations\":[".utf8)
    }
}
