/// An error from the Kafka layer, carrying librdkafka's error name and message.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative for client-side errors), or 0 for
    /// errors Cascade raises itself (see `name`).
    public var code: Int32
    /// librdkafka's error name, e.g. `_MSG_TIMED_OUT`, `UNKNOWN_TOPIC_OR_PART`.
    public var name: String
    public var message: String

    public init(code: Int32, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    public var description: String { "\(name): \(message)" }

    /// The client gave up waiting for a delivery report (`message.timeout.ms`).
    public var isTimeout: Bool { name == "_MSG_TIMED_OUT" || name == "_TIMED_OUT" }

    static func config(_ message: String) -> KafkaError {
        KafkaError(code: 0, name: "CONFIG", message: message)
    }

    static func invalidTopic(_ topic: String) -> KafkaError {
        KafkaError(
            code: 0, name: "INVALID_TOPIC",
            message: "'\(topic)' is not a valid topic name (1 to 249 of a-z A-Z 0-9 . _ -)")
    }

    static let closed = KafkaError(code: 0, name: "CLOSED", message: "the client is shut down")
}
