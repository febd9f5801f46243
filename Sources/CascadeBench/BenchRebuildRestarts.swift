import CascadeKafka
import CascadeProcess
import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// `cascade bench rebuild --restarts K`: a real `cascade bus` process against the embedded
/// broker that holds the registrations, killed (SIGKILL) and started again K times, each start
/// timed from spawning the process to GET /readyz answering 200. While it rebuilds, `--flow`
/// registrations a second keep arriving, as nodes send them.
struct BenchRebuildRestarts {
    /// What the bus is told (`-X` for each property).
    var kafka: KafkaConfiguration
    /// What the `--flow` writer's producer is made with.
    var writerKafka: KafkaConfiguration
    var topics: Topics
    /// Of the events and state topics.
    var partitions: Int
    var graph: String
    var executable: URL
    var restarts: Int
    var flow: Int
    /// The first registration number the flow writes (after those already on the broker).
    var firstFlowing: Int

    struct Result {
        var seconds: [Double]
        var flowed: Int
    }

    func run() async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-bench-rebuild-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("bus.log")
        printLine("  restarts: \(executable.path) as the bus, its log in \(log.path)")
        let flowed = NIOLockedValueBox(0)
        let writer = flow > 0 ? Task { try await writeFlow(counted: flowed) } : nil
        defer { writer?.cancel() }

        var arguments = [
            "bus", "--graph", graph, "--kafka", kafka.bootstrapServers, "--group", "bench-rebuild-restarts", "--partitions", String(partitions),
            "--topic-prefix", topics.prefix, "--log-level", "info",
        ]
        for (key, value) in kafka.properties.sorted(by: { $0.key < $1.key }) { arguments += ["-X", "\(key)=\(value)"] }
        // The first start, on a free port, whose ready line says which.
        let first = try ChildProcess.start(name: "bus", executable: executable, arguments: arguments + ["--admin-port", "0"], log: log)
        let port = try await first.awaitBusReady(timeout: .seconds(600))
        var bus = first
        var seconds: [Double] = []
        let clock = ContinuousClock()
        for round in 1...restarts {
            bus.signal(SIGKILL)
            _ = try? await bus.awaitExit(timeout: .seconds(10))
            let started = clock.now
            bus = try ChildProcess.start(name: "bus", executable: executable, arguments: arguments + ["--admin-port", String(port)], log: log)
            var answer = (status: 0, body: "")
            while answer.status != 200 && bus.isRunning && clock.now - started < .seconds(600) {
                try await Task.sleep(for: .milliseconds(50))
                answer = await chaosHTTPGet("http://127.0.0.1:\(port)/readyz")
            }
            guard answer.status == 200 else {
                await bus.stop()
                throw BenchRebuildError("restart \(round): not ready (\(bus.isRunning ? "after 600 s" : "exited")); see \(log.path)")
            }
            let elapsed = (clock.now - started).inSeconds
            seconds.append(elapsed)
            printLine(String(format: "  restart %d: /readyz 200 after %.2f s", round, elapsed))
        }
        await bus.stop()
        return Result(seconds: seconds, flowed: flowed.withLockedValue { $0 })
    }

    /// Registrations `flow` a second, spread evenly, through a producer with the node's
    /// settings (`linger.ms` 1 unless the properties say otherwise), until cancelled.
    private func writeFlow(counted: NIOLockedValueBox<Int>) async throws {
        let producer = try KafkaProducer(configuration: writerKafka)
        var n = firstFlowing
        let clock = ContinuousClock()
        let started = clock.now
        while !Task.isCancelled {
            let due = started + .nanoseconds(Int64(n - firstFlowing) * 1_000_000_000 / Int64(flow))
            if due - clock.now >= .milliseconds(1) { try? await Task.sleep(until: due) }
            let registration = BenchRebuildWorkload.registration(n)
            try await producer.produce(
                topic: topics.deps, key: Array(registration.kafkaKey.utf8), value: registration.encoded(), token: UInt64(n))
            counted.withLockedValue { $0 += 1 }
            n += 1
        }
        await producer.shutdown()
    }
}

struct BenchRebuildError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
