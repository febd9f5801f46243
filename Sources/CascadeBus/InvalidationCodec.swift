import CascadeWire

/// The encoders the pipeline uses for what it writes per event: hand-written JSON, the same
/// bytes as the Codable form (JSONEncoder cost more than the whole resolution).
enum InvalidationCodec {
    static func encode(_ message: InvalidationMessage) -> [UInt8] {
        message.fastEncoded()
    }

    static func encode(_ record: LedgerRecord) -> [UInt8] {
        record.fastEncoded()
    }
}
