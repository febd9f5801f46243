import CascadeWire

/// A rejected event for `cascade.dlq`: the original key and bytes, and headers saying why
/// and where it came from, so an operator can fix and replay it.
enum DeadLetter {
    static let reasonHeader = "cascade-reason"
    static let detailHeader = "cascade-detail"

    static func message(
        topics: Topics, key: [UInt8]?, value: [UInt8]?, rejection: EventRejection, source: SourcePosition
    ) -> OutboundMessage {
        OutboundMessage(
            topic: topics.dlq, key: key, value: value,
            headers: [
                .init(reasonHeader, rejection.kind),
                .init(detailHeader, rejection.detail),
                .init("cascade-source-topic", source.topic),
                .init("cascade-source-partition", String(source.partition)),
                .init("cascade-source-offset", String(source.offset)),
            ])
    }
}
