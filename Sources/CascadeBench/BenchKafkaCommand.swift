import ArgumentParser
import CascadeClient
import CascadeKafka
import CascadeSync
import Foundation
import Logging
import NIOConcurrencyHelpers

public struct BenchKafkaCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Produce and consume through the embedded broker, next to raw librdkafka.",
        discussion: """
            Both sides move the same number of messages of the same size through one embedded \
            broker in one run: first the C baseline (scripts/bench/rdkafka_baseline.c, compiled \
            here with cc unless --baseline names a binary), then the Swift layer, with the \
            baseline's producer settings (linger.ms 5).
            """
    )

    @Option(help: "Messages per side.")
    var messages: Int = 1_000_000

    @Option(help: "Value size in bytes.")
    var size: Int = 100

    @Option(help: "Partitions per topic (the embedded broker keeps about 5 MB per partition).")
    var partitions: Int = 64

    @Option(help: "A built baseline binary; otherwise the C source is compiled with cc.")
    var baseline: String?

    @Option(help: "The baseline's C source.")
    var baselineSource: String = "scripts/bench/rdkafka_baseline.c"

    @Option(help: .hidden)
    var workerBootstrap: String?

    @Option(help: .hidden)
    var workerTopic: String?

    public func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        // The Swift side runs in a process of its own, as the C side does, so that neither
        // shares a process (and its threads) with the broker.
        if let workerBootstrap, let workerTopic {
            // The baseline's producer settings, so that the two sides differ only in the layer:
            // the producer's own default linger is 1 ms (latency first), the baseline's 5 ms.
            let rates = try await runSwift(
                KafkaConfiguration(bootstrapServers: workerBootstrap, properties: ["linger.ms": "5"]), topic: workerTopic)
            printLine("produce \(Int(rates.produce))")
            printLine("consume \(Int(rates.consume)) \(rates.received)")
            return
        }
        let baselinePath = try baseline ?? compileBaseline(baselineSource, name: "rdkafka-baseline")
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: partitions)
        defer { kafka.shutdown() }
        let cTopic = "bench-c-\(UInt32.random(in: 0...UInt32.max))"
        let swiftTopic = "bench-swift-\(UInt32.random(in: 0...UInt32.max))"
        try kafka.createTopic(cTopic, partitions: partitions)
        try kafka.createTopic(swiftTopic, partitions: partitions)
        printLine("cascade bench kafka: \(messages) messages of \(size) bytes, \(partitions) partitions, embedded broker;")
        printLine("each side produces all, then consumes all from the beginning, in a process of its own")
        let c = try baselineRates(baselinePath, [kafka.bootstrapServers, cTopic, "\(messages)", "\(size)"])
        let swift = try baselineRates(
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            ["bench", "kafka", "--worker-bootstrap", kafka.bootstrapServers, "--worker-topic", swiftTopic,
             "--messages", "\(messages)", "--size", "\(size)"])
        let rows = [("produce", swift.produce, c.produce), ("consume", swift.consume, c.consume)]
        printLine("received: swift \(swift.received), C \(c.received) of \(messages)")
        printLine("side      swift msg/s     C msg/s   ratio   floor")
        var met = true
        for (side, swift, c) in rows {
            let ratio = swift / c
            met = met && ratio >= 0.8
            printLine(
                "\(side.padding(toLength: 8, withPad: " ", startingAt: 0))"
                    + String(format: "%13.0f %11.0f %7.2f   >= 0.80 %@", swift, c, ratio, ratio >= 0.8 ? "ok" : "MISSED"))
        }
        if !met { throw ExitCode(1) }
    }

    private struct Rates {
        var produce: Double
        var consume: Double
        var received: Int
    }

    /// Produces every message, then reads them all from the beginning, as the C baseline does.
    private func runSwift(_ config: KafkaConfiguration, topic: String) async throws -> Rates {
        let counter = DeliveryCounter(target: messages)
        let producer = try KafkaProducer(configuration: config, deliveryHandler: { counter.add($0) })
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let start = ContinuousClock.now
        for index in 0..<messages {
            try await producer.produce(topic: topic, key: nil, value: payload, token: UInt64(index))
        }
        let failures = await counter.wait()
        let produceRate = Double(messages) / (ContinuousClock.now - start).inSeconds
        await producer.shutdown()
        if failures > 0 { printLine("warning: \(failures) Swift deliveries failed") }

        let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .beginning))
        let target = messages
        let consuming = Task { () -> (Double, Int) in
            var received = 0
            var first: ContinuousClock.Instant?
            var last = ContinuousClock.now
            for await event in consumer.events {
                guard case .messages(let batch) = event else { continue }
                last = .now
                if first == nil { first = last }
                received += batch.count
                if received >= target { break }
            }
            let elapsed = last - (first ?? last)
            return (received > 1 ? Double(received) / elapsed.inSeconds : 0, received)
        }
        // Stops the count if some messages never come (dropped by the broker).
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            await consumer.shutdown()
        }
        let (consumeRate, received) = await consuming.value
        watchdog.cancel()
        await consumer.shutdown()
        return Rates(produce: produceRate, consume: consumeRate, received: received)
    }

    private func baselineRates(_ path: String, _ arguments: [String]) throws -> Rates {
        let (status, text) = try runBaseline(path, arguments, discardingErrors: true)
        var rates = Rates(produce: 0, consume: 0, received: 0)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first == "produce", fields.count >= 2 { rates.produce = Double(fields[1]) ?? 0 }
            if fields.first == "consume", fields.count >= 3 {
                rates.consume = Double(fields[1]) ?? 0
                rates.received = Int(fields[2]) ?? 0
            }
        }
        guard status == 0, rates.produce > 0 else { throw OperatorError("\(path) failed: \(text)") }
        return rates
    }
}

/// Counts delivery reports and wakes the benchmark when all have arrived.
private final class DeliveryCounter: Sendable {
    private let state = NIOLockedValueBox<(count: Int, failures: Int)>((0, 0))
    /// Moves once every report has arrived.
    private let complete = ChangeSignal()
    private let target: Int

    init(target: Int) {
        self.target = target
    }

    func add(_ deliveries: [KafkaProducer.Delivery]) {
        let failures = deliveries.reduce(0) { count, delivery in
            if case .failure = delivery.result { return count + 1 }
            return count
        }
        let done = state.withLockedValue { state -> Bool in
            let before = state.count
            state.count += deliveries.count
            state.failures += failures
            return before < target && state.count >= target
        }
        if done { complete.changed() }
    }

    /// The failed deliveries, once every report has arrived.
    func wait() async -> Int {
        _ = await complete.wait { state.withLockedValue { $0.count } >= target }
        return state.withLockedValue { $0.failures }
    }
}
