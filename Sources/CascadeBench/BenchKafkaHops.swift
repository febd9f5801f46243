import CascadeClient
import CascadeKafka
import CascadeSync
import Foundation
import Histogram
import NIOConcurrencyHelpers
import NIOCore

/// The Kafka hops of `bench e2e` through Cascade's own Kafka layer and nothing else, as
/// scripts/bench/rdkafka_hops.c does them with librdkafka: a paced source producer; a hop that
/// consumes each event and produces one message to each of three service topics; three
/// consumers. Between the raw baseline and the whole bus, it tells the cost of the layer
/// (poll threads, hand-offs to tasks) from the cost of what the bus and nodes do.
enum BenchKafkaHops {
    private static let services = 3

    /// One row per rate, formatted as the raw baseline's. `bootstrap`: a broker to use instead
    /// of an embedded one of its own.
    static func run(rates: [Int], seconds: Int, partitions: Int, bootstrap: String? = nil) async throws -> [String] {
        let kafka = try BenchBroker(bootstrap: bootstrap, partitions: partitions)
        defer { kafka.shutdown() }
        let eventsTopic = kafka.prefix + "hops.events"
        func serviceTopic(_ service: Int) -> String { kafka.prefix + "hops.invalidations.\(service)" }
        try await kafka.createTopics([eventsTopic] + (0..<services).map(serviceTopic), partitions: partitions)
        // The settings of the in-process cluster `bench e2e` runs.
        let configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers, properties: ["linger.ms": "1", "fetch.wait.max.ms": "1"])
        let arrivals = HopArrivals(services: services, capacity: max(rates.max() ?? 0, 1) * seconds + 4 * partitions)

        let hopIn = try KafkaConsumer(configuration: configuration, subscription: .allPartitions(topics: [eventsTopic], from: .beginning))
        let hopOut = try KafkaProducer(configuration: configuration)
        let hop = Task {
            for await event in hopIn.events {
                guard case .messages(let batch) = event else { continue }
                for message in batch {
                    for service in 0..<services {
                        try await hopOut.produce(
                            topic: serviceTopic(service), key: nil, value: message.valueBytes, partition: message.partition, token: 0)
                    }
                }
            }
        }
        var nodes: [KafkaConsumer] = []
        var readers: [Task<Void, Never>] = []
        for service in 0..<services {
            let node = try KafkaConsumer(
                configuration: configuration, subscription: .allPartitions(topics: [serviceTopic(service)], from: .beginning))
            nodes.append(node)
            readers.append(Task {
                for await event in node.events {
                    guard case .messages(let batch) = event else { continue }
                    let now = ContinuousClock.now
                    for message in batch {
                        if let value = message.value, let index = value.getInteger(at: value.readerIndex, endianness: .little, as: Int64.self) {
                            arrivals.arrived(service: service, index: Int(index), at: now)
                        }
                    }
                }
            })
        }
        let source = try KafkaProducer(configuration: configuration)
        func send(_ index: Int) async throws {
            var payload = [UInt8](repeating: UInt8(ascii: "x"), count: 200)
            withUnsafeBytes(of: Int64(index).littleEndian) { payload.replaceSubrange(0..<8, with: $0) }
            arrivals.sent(index)
            try await source.produce(topic: eventsTopic, key: Array("Product#p-\(index % 1000)".utf8), value: payload, token: 0)
        }

        // Warm-up: events over every partition, through every hop.
        let warmUps = 4 * partitions
        arrivals.reset()
        for index in 0..<warmUps { try await send(index) }
        guard await arrivals.awaitDone(warmUps, until: .now + .seconds(60)) else {
            throw OperatorError("the Swift hops did not deliver their warm-up within 60 s")
        }

        var rows: [String] = []
        for rate in rates {
            arrivals.reset()
            let total = rate * seconds
            try await sendPaced(rate: rate, total: total, send)
            _ = await arrivals.awaitDone(total, until: .now + .seconds(10))
            let (done, histogram) = arrivals.latencies(total)
            func ms(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
            rows.append(String(format: "%6d %8d %6d %8.2f %8.2f  %8.2f", rate, total, done, ms(50), ms(99), ms(99.9)))
        }
        hop.cancel()
        for reader in readers { reader.cancel() }
        await hopIn.shutdown()
        for node in nodes { await node.shutdown() }
        await hopOut.shutdown()
        await source.shutdown()
        return rows
    }
}

/// When each event was sent and when it reached each service.
private final class HopArrivals: Sendable {
    private struct State {
        var sent: [ContinuousClock.Instant?]
        var arrived: [[ContinuousClock.Instant?]]
        /// Events that reached every service.
        var done = 0

        init(services: Int, capacity: Int) {
            sent = Array(repeating: nil, count: capacity)
            arrived = Array(repeating: Array(repeating: nil, count: capacity), count: services)
        }
    }

    private let state: NIOLockedValueBox<State>
    /// Moves when an event reached every service.
    private let progress = ChangeSignal()

    init(services: Int, capacity: Int) {
        state = NIOLockedValueBox(State(services: services, capacity: capacity))
    }

    func reset() {
        state.withLockedValue { $0 = State(services: $0.arrived.count, capacity: $0.sent.count) }
    }

    func sent(_ index: Int) {
        state.withLockedValue { $0.sent[index] = .now }
    }

    func arrived(service: Int, index: Int, at instant: ContinuousClock.Instant) {
        let completed = state.withLockedValue { state -> Bool in
            guard state.sent.indices.contains(index), state.sent[index] != nil, state.arrived[service][index] == nil else { return false }
            state.arrived[service][index] = instant
            guard state.arrived.allSatisfy({ $0[index] != nil }) else { return false }
            state.done += 1
            return true
        }
        if completed { progress.changed() }
    }

    func awaitDone(_ count: Int, until deadline: ContinuousClock.Instant) async -> Bool {
        await progress.wait(until: deadline) { state.withLockedValue { $0.done } >= count }
    }

    /// Of the first `count` events, how many reached every service, and their latencies (µs)
    /// from sending to the last service.
    func latencies(_ count: Int) -> (done: Int, histogram: Histogram<UInt64>) {
        state.withLockedValue { state in
            var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000)
            var done = 0
            for index in 0..<min(count, state.sent.count) {
                guard let sent = state.sent[index] else { continue }
                let arrivals = state.arrived.compactMap { $0[index] }
                guard arrivals.count == state.arrived.count, let last = arrivals.max() else { continue }
                _ = histogram.record(UInt64(max(0, (last - sent).inSeconds * 1_000_000)))
                done += 1
            }
            return (done, histogram)
        }
    }
}
