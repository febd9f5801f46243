import CRdKafka

/// The producer's C calls: enqueueing, the delivery-report queue, flushing.
enum RDKafkaProducer {
    /// What one poll of the report queue found.
    enum Event {
        /// Delivery reports, handed to `report` one by one during the poll.
        case deliveries
        case error(KafkaError, text: String, fatal: Bool)
    }

    /// A producer client whose delivery reports and errors arrive as events on `reports` (its
    /// main queue), which the caller destroys before letting go of the client.
    static func make(conf: OpaquePointer) throws(KafkaError) -> (client: RDClient, reports: RDHandle) {
        rd_kafka_conf_set_events(conf, Int32(RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR))
        let pointer = try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf)
        return (RDClient(pointer), RDHandle(pointer: rd_kafka_queue_get_main(pointer)))
    }

    /// Enqueues one message (copied); `token` comes back with its delivery report.
    static func enqueue(
        _ client: RDClient, topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?,
        timestampMillis: Int64 = 0, token: UInt64
    ) -> rd_kafka_resp_err_t {
        let headerList = RDKafkaHeaders.make(headers)
        let opaque = UnsafeMutableRawPointer(bitPattern: UInt(token))
        // withCString: the implicit String-to-pointer conversion copies the name into a new
        // array on every call.
        let code = topic.withCString { topicName in
            withOptionalBytes(key) { keyPointer, keyCount in
                withOptionalBytes(value) { valuePointer, valueCount in
                    cascade_produce(
                        client.pointer, topicName, partition ?? RD_KAFKA_PARTITION_UA, keyPointer, keyCount,
                        valuePointer, valueCount, headerList, timestampMillis, opaque)
                }
            }
        }
        if code != RD_KAFKA_RESP_ERR_NO_ERROR, let headerList { rd_kafka_headers_destroy(headerList) }
        return code
    }

    /// Messages waiting to be sent or acknowledged.
    static func outstanding(_ client: RDClient) -> Int { Int(rd_kafka_outq_len(client.pointer)) }

    /// Waits up to `timeoutMs` for every enqueued message to be acknowledged. Blocking.
    static func flush(_ client: RDClient, timeoutMs: Int32) -> Bool {
        rd_kafka_flush(client.pointer, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Makes a blocked `poll` of `reports` return now.
    static func wake(_ reports: RDHandle) { rd_kafka_queue_yield(reports.pointer) }

    static func destroy(reports: RDHandle) { rd_kafka_queue_destroy(reports.pointer) }

    /// Waits up to `timeoutMs` for the next event on `reports`; each delivery report in it goes
    /// to `report` with its message's token, with no array in between (the hot path).
    /// Blocking: the poll thread's.
    static func poll(
        _ reports: RDHandle, timeoutMs: Int32, report: (UInt64, Result<DeliveryReport, KafkaError>) -> Void
    ) -> Event? {
        guard let event = rd_kafka_queue_poll(reports.pointer, timeoutMs) else { return nil }
        defer { rd_kafka_event_destroy(event) }
        switch rd_kafka_event_type(event) {
        case Int32(RD_KAFKA_EVENT_DR):
            deliveries(event, report)
            return .deliveries
        case Int32(RD_KAFKA_EVENT_ERROR):
            return .error(
                KafkaError(rd_kafka_event_error(event)), text: String(cString: rd_kafka_event_error_string(event)),
                fatal: rd_kafka_event_error_is_fatal(event) != 0)
        default:
            return nil
        }
    }

    private static func deliveries(_ event: OpaquePointer, _ report: (UInt64, Result<DeliveryReport, KafkaError>) -> Void) {
        var messages = [UnsafePointer<rd_kafka_message_t>?](repeating: nil, count: 1024)
        var topicNames = TopicNameCache()
        while true {
            let count = messages.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_event_message_array(event, buffer.baseAddress, buffer.count)
            }
            if count == 0 { break }
            for index in 0..<count {
                guard let message = messages[index] else { continue }
                let token = UInt64(UInt(bitPattern: message.pointee._private))
                let topic = topicNames.name(of: message.pointee.rkt)
                if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    report(token, .success(DeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
                } else {
                    report(token, .failure(KafkaError(message.pointee.err, context: "delivery to \(topic)")))
                }
            }
        }
    }
}

/// Topic names by librdkafka topic handle, so a batch does not build one String per message.
struct TopicNameCache {
    private var names: [OpaquePointer: String] = [:]

    mutating func name(of topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        if let name = names[topic] { return name }
        let name = String(cString: rd_kafka_topic_name(topic))
        names[topic] = name
        return name
    }
}

func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
