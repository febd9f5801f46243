import Logging
import NIOConcurrencyHelpers

/// Several producers behind one `produce`, each topic on a lane of its own (lanes are handed out
/// in turn as topics are first written to, so a few topics never share one): every partition is
/// written by one producer, so its messages stay in order, and its batches are not split.
///
/// Why: librdkafka sends one ProduceRequest per partition batch, and an idempotent producer
/// here keeps one request in flight per connection (see `KafkaProducer.defaults`), so a
/// producer writing to many partitions sends their batches one after another, each a round
/// trip. The bus writes to about 40 partitions (the ledger's and every service's invalidation
/// topic's): at 1,000 events/s on tansu its one connection was busy 80% of the time (570
/// requests/s at 1.4 ms each) and an invalidation waited 37 ms at p50 to be acknowledged.
/// Lanes are connections of their own, so their requests overlap.
public final class KafkaProducerLanes: Sendable {
    private let lanes: [KafkaProducer]
    private let topicLanes = NIOLockedValueBox<[String: Int]>([:])

    /// `count` producers with the same settings; every delivery report goes to `deliveryHandler`.
    public init(
        count: Int, configuration: KafkaConfiguration, logger: Logger = Logger(label: "cascade.kafka.producer"),
        deliveryHandler: KafkaProducer.DeliveryHandler? = nil
    ) throws(KafkaError) {
        var lanes: [KafkaProducer] = []
        for _ in 0..<max(1, count) {
            lanes.append(try KafkaProducer(configuration: configuration, logger: logger, deliveryHandler: deliveryHandler))
        }
        self.lanes = lanes
    }

    public var count: Int { lanes.count }

    /// The lane that writes `topic`: the next one in turn the first time it is asked.
    public func lane(for topic: String) -> Int {
        guard lanes.count > 1 else { return 0 }
        return topicLanes.withLockedValue { assigned in
            if let lane = assigned[topic] { return lane }
            let lane = assigned.count % lanes.count
            assigned[topic] = lane
            return lane
        }
    }

    /// `KafkaProducer.produce` on the topic's lane.
    public nonisolated(nonsending) func produce(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil, token: UInt64
    ) async throws(KafkaError) {
        try await lanes[lane(for: topic)].produce(topic: topic, key: key, value: value, headers: headers, partition: partition, token: token)
    }

    /// `KafkaProducer.send` on the topic's lane.
    @discardableResult
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) async throws(KafkaError) -> DeliveryReport {
        try await lanes[lane(for: topic)].send(topic: topic, key: key, value: value, headers: headers, partition: partition)
    }

    /// `KafkaProducer.sendInOrder` on each message's lane, the lanes at once: each topic's
    /// messages keep their order. Reports come back in the messages' order.
    public func sendInOrder(_ messages: [ProducerMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        guard lanes.count > 1 else { return await lanes[0].sendInOrder(messages) }
        var byLane: [Int: [Int]] = [:]
        for (index, message) in messages.enumerated() { byLane[lane(for: message.topic), default: []].append(index) }
        var reports = [Result<DeliveryReport, KafkaError>](repeating: .failure(.closed), count: messages.count)
        await withTaskGroup(of: ([Int], [Result<DeliveryReport, KafkaError>]).self) { group in
            for (lane, indices) in byLane {
                group.addTask { [lanes] in (indices, await lanes[lane].sendInOrder(indices.map { messages[$0] })) }
            }
            for await (indices, laneReports) in group {
                for (index, report) in zip(indices, laneReports) { reports[index] = report }
            }
        }
        return reports
    }

    /// Messages waiting to be sent or acknowledged, on every lane.
    public var outstanding: Int { lanes.reduce(0) { $0 + $1.outstanding } }

    /// Flushes every lane at once; true when all are done within `timeout`.
    @discardableResult
    public func flush(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for lane in lanes { group.addTask { await lane.flush(timeout: timeout) } }
            return await group.reduce(true) { $0 && $1 }
        }
    }

    /// Shuts every lane down at once (`KafkaProducer.shutdown`).
    public func shutdown(timeout: Duration = .seconds(10)) async {
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes { group.addTask { await lane.shutdown(timeout: timeout) } }
        }
    }
}
