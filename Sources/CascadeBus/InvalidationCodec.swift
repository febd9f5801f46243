import CascadeWire

/// The encoder the pipeline uses for invalidation messages; one place to swap in a faster one.
enum InvalidationCodec {
    static func encode(_ message: InvalidationMessage) -> [UInt8] {
        message.encoded()
    }
}
