@testable import CascadeBus
import CascadeKafka
import CascadeTestSupport
import Foundation
import Logging
import Testing

/// The bus hears each delivered message's span through `AcknowledgedCommits.onDelivered`
/// (partitioned state returns hop credits there). Kept as a lock box's bare closure, every
/// delivery report wrapped the hook in two more thunks: after a minute of a chaos run its
/// calls were tens of thousands of frames deep and took most of the bus's CPU, and the edge
/// records behind them landed seconds late.
@Suite("Delivery hook")
struct DeliveryHookTests {
    @Test("the hook is called as shallow after hundreds of delivery reports as after the first")
    func staysShallow() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 1)
        defer { kafka.shutdown() }
        try kafka.createTopic("hooked", partitions: 1)
        let commits = try AcknowledgedCommits(
            kafka: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers), logger: Logger(label: "test"))
        let (depths, heard) = AsyncStream<Int>.makeStream()
        commits.onDelivered { _ in heard.yield(Thread.callStackReturnAddresses.count) }
        var reports = depths.makeAsyncIterator()
        var seen: [Int] = []
        // One message at a time, each awaited: a delivery report (a read of the hook) each.
        for sequence in 1...300 {
            try await commits.producer.produce(
                topic: "hooked", key: nil, value: [1], token: AcknowledgedCommits.token(sequence: UInt64(sequence), position: 0))
            seen.append(try #require(await reports.next()))
        }
        await commits.producer.shutdown()
        #expect(seen.last == seen.first, "stack depth at the first report \(seen.first ?? 0), at the last \(seen.last ?? 0)")
    }
}
