import CRdKafka

extension KafkaError {
    /// Maps a librdkafka error code to a KafkaError with its name and text.
    init(_ code: rd_kafka_resp_err_t, context: String? = nil) {
        let name = String(cString: rd_kafka_err2name(code))
        let text = String(cString: rd_kafka_err2str(code))
        self.init(code: code.rawValue, name: name, message: context.map { "\($0): \(text)" } ?? text)
    }

    /// Takes over and destroys an `rd_kafka_error_t`.
    init(consuming error: OpaquePointer) {
        let code = rd_kafka_error_code(error)
        let name = String(cString: rd_kafka_error_name(error))
        let text = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        self.init(code: code.rawValue, name: name, message: text)
    }
}
