import CascadeKafka
import CascadeStore
import CascadeWire
import Logging
import ServiceLifecycle

/// Publishes the node's `NodeReport` on `cascade.nodes` once a second, from when it listens
/// until it stops: how operators and `cascade publish --wait` know which nodes are alive and
/// how far each has applied.
public final class NodeReporter: Service {
    private let node: CacheNode
    private let producer: KafkaProducer
    private let topic: String
    private let logger: Logger

    public init(node: CacheNode, producer: KafkaProducer, topics: Topics, logger: Logger) {
        self.node = node
        self.producer = producer
        self.topic = topics.nodes
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let report = self.node.report() {
                    do throws(KafkaError) {
                        try await self.producer.produce(topic: self.topic, key: Array(report.kafkaKey.utf8), value: report.encoded(), token: 0)
                    } catch {
                        self.logger.debug("cannot publish the node report", metadata: ["error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

extension CacheNode {
    /// This node's report, once it listens (nil before: it has no address yet).
    func report(now: Int64 = WallClock.nowMillis()) -> NodeReport? {
        guard let address = advertisedAddress else { return nil }
        let applied = Dictionary(uniqueKeysWithValues: positions.positions.map { (String($0.key), $0.value) })
        return NodeReport(
            service: service, node: nodeID, address: address, applied: applied, stalenessMillis: stalenessMillis(now: now),
            lag: counters.lag, degraded: !servesReads(), atMillis: now, applyDelayMillis: counters.takeLongestApplyDelay())
    }
}
