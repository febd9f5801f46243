import CRdKafka

/// A raw C handle that may cross threads.
// @unchecked Sendable: librdkafka handles are thread-safe.
struct RDHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Owns one librdkafka client: it is destroyed when the last holder lets go, so a poll thread or
/// a worker still inside librdkafka keeps it alive without being joined first (a `deinit` then
/// never blocks on a thread).
final class RDClient: Sendable {
    let handle: RDHandle
    /// What librdkafka's opaque pointer reaches from callbacks, which may run until destruction.
    private let opaque: (any Sendable)?

    init(_ pointer: OpaquePointer, opaque: (any Sendable)? = nil) {
        self.handle = RDHandle(pointer: pointer)
        self.opaque = opaque
    }

    var pointer: OpaquePointer { handle.pointer }

    deinit {
        rd_kafka_destroy(handle.pointer)
    }
}

extension Duration {
    /// The whole milliseconds librdkafka's timeouts take, clamped to its `int`.
    var librdkafkaMilliseconds: Int32 {
        Int32(clamping: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
