import CascadeWire

/// A rejected event for `cascade.dlq`: the original key and bytes, and headers saying why
/// and where it came from, so an operator can fix and replay it.
///
/// A dead letter always fits a Kafka message: a value or key beyond the bounds below is cut,
/// and the headers say so and give the original size. One that did not fit would never be
/// delivered, and its event's offset never committed.
enum DeadLetter {
    static let reasonHeader = "cascade-reason"
    static let detailHeader = "cascade-detail"
    static let originalBytesHeader = "cascade-original-bytes"
    static let truncatedHeader = "cascade-truncated"
    /// Far below the default message.max.bytes (1,000,000) with the key and headers.
    static let maxValueBytes = 512 * 1024
    static let maxKeyBytes = 16 * 1024
    static let maxDetailBytes = 4 * 1024

    static func message(
        topics: Topics, key: [UInt8]?, value: [UInt8]?, rejection: EventRejection, source: SourcePosition
    ) -> OutboundMessage {
        var headers: [OutboundMessage.Header] = [
            .init(reasonHeader, rejection.kind),
            .init(detailHeader, String(decoding: rejection.detail.utf8.prefix(maxDetailBytes), as: UTF8.self)),
            .init("cascade-source-topic", source.topic),
            .init("cascade-source-partition", String(source.partition)),
            .init("cascade-source-offset", String(source.offset)),
        ]
        var truncated: [String] = []
        if let value, value.count > maxValueBytes {
            truncated.append("value")
            headers.append(.init(originalBytesHeader, String(value.count)))
        }
        if let key, key.count > maxKeyBytes {
            truncated.append("key")
            headers.append(.init("cascade-original-key-bytes", String(key.count)))
        }
        if !truncated.isEmpty { headers.append(.init(truncatedHeader, truncated.joined(separator: ","))) }
        return OutboundMessage(
            topic: topics.dlq, key: key.map { Array($0.prefix(maxKeyBytes)) }, value: value.map { Array($0.prefix(maxValueBytes)) },
            headers: headers)
    }
}
