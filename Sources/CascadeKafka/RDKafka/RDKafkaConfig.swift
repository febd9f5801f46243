import CRdKafka
import Logging

/// Builds an `rd_kafka_conf_t` from properties. The conf is owned by the caller until
/// `rd_kafka_new` takes it.
enum RDKafkaConfig {
    static func make(_ properties: [String: String]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw .config("out of memory creating a configuration") }
        var message = [CChar](repeating: 0, count: 512)
        // Sorted so that errors are reported in a stable order.
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &message, message.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let text = cString(message)
                throw .config("\(key)=\(value): \(text)")
            }
        }
        rd_kafka_conf_set_log_cb(conf, rdkafkaLog)
        return conf
    }

    static func newClient(_ type: rd_kafka_type_t, conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
        var message = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &message, message.count) else {
            rd_kafka_conf_destroy(conf)
            let text = cString(message)
            throw .config(text)
        }
        return handle
    }
}

/// librdkafka's own log lines (connection failures, broker state), at syslog levels.
private let librdkafkaLogger = Logger(label: "librdkafka")

private func rdkafkaLog(_ handle: OpaquePointer?, _ level: Int32, _ facility: UnsafePointer<CChar>?, _ text: UnsafePointer<CChar>?) {
    let logLevel: Logger.Level
    switch level {
    case ...2: logLevel = .error
    case 3: logLevel = .warning
    case 4: logLevel = .notice
    case 5, 6: logLevel = .info
    default: logLevel = .debug
    }
    guard librdkafkaLogger.logLevel <= logLevel else { return }
    let name = handle.map { String(cString: rd_kafka_name($0)) } ?? "rdkafka"
    let facilityText = facility.map { String(cString: $0) } ?? ""
    let messageText = text.map { String(cString: $0) } ?? ""
    librdkafkaLogger.log(level: logLevel, "\(facilityText): \(messageText)", metadata: ["client": "\(name)"])
}

/// The text of a NUL-terminated error buffer librdkafka filled in.
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { pointer in pointer.baseAddress.map { String(cString: $0) } ?? "" }
}
