import CascadeKafka
import Foundation
import Histogram

/// One measured run: events/s at saturation, then latency at a paced rate.
struct BenchBusResult {
    var eventsPerSecond: Double
    var seconds: Double
    var latency: Histogram<UInt64>
}

/// Feeds the workload to a target while it consumes, and times it.
struct BenchBusDriver {
    var kafka: KafkaConfiguration
    var workload: BenchBusWorkload
    /// Events of the throughput phase; the rest of the workload is the latency phase.
    var throughputEvents: Int
    var latencyRate: Int
    /// At most this many events produced and not yet acknowledged: the mock broker keeps only
    /// about 5 MB per partition, so a producer far ahead would lose events before they are read.
    var window: Int

    private static let warmUpToken: UInt64 = 1 << 62

    func run(_ target: some BenchBusTarget, recorder: BenchBusRecorder) async throws -> BenchBusResult {
        let producer = try KafkaProducer(configuration: kafka) { deliveries in
            for delivery in deliveries where delivery.token != Self.warmUpToken {
                if case .success(let report) = delivery.result {
                    recorder.eventDelivered(index: Int(delivery.token), partition: report.partition, offset: report.offset)
                }
            }
        }
        let topic = target.eventsTopic
        try await target.start()

        // One event outside the measurement: the consumer has joined its group and reads.
        try await producer.produce(topic: topic, key: workload.warmUp.key, value: workload.warmUp.value, token: Self.warmUpToken)
        await recorder.waitForAcknowledged(1)

        let start = ContinuousClock.now
        for index in 0..<throughputEvents {
            if index % 1024 == 0, index - recorder.acknowledged > window {
                await recorder.waitForAcknowledged(index - window / 2)
            }
            let event = workload.events[index]
            try await producer.produce(topic: topic, key: event.key, value: event.value, token: UInt64(index))
        }
        await recorder.waitForAcknowledged(1 + throughputEvents)
        let seconds = (ContinuousClock.now - start).inSeconds

        // Latency at a steady, known rate: produce time → every caused message acknowledged.
        recorder.startRecording()
        let timed = workload.events.count - throughputEvents
        var producedNanos = [UInt64](repeating: 0, count: timed)
        let paceStart = ContinuousClock.now
        for offset in 0..<timed {
            let due = paceStart + .nanoseconds(Int64(offset) * 1_000_000_000 / Int64(max(1, latencyRate)))
            if due > ContinuousClock.now { try await Task.sleep(until: due, tolerance: .microseconds(100)) }
            let index = throughputEvents + offset
            let event = workload.events[index]
            producedNanos[offset] = BenchBusRecorder.nanos()
            try await producer.produce(topic: topic, key: event.key, value: event.value, token: UInt64(index))
        }
        await recorder.waitForAcknowledged(1 + workload.events.count)
        await target.stop()
        await producer.shutdown()
        return BenchBusResult(
            eventsPerSecond: Double(throughputEvents) / seconds, seconds: seconds, latency: recorder.latencies(producedNanos: producedNanos))
    }
}
