import CascadeKafka
import CascadeTestSupport
import Foundation
import Testing

/// The real `kcat` against the real `cascade kafka` binary.
@Suite("kcat and the Swift layer through cascade kafka", .enabled(if: findExecutable("kcat") != nil))
struct KcatInteropTests {
    @Test("kcat produces, the Swift consumer reads every message; and the reverse")
    func bothWays() async throws {
        let broker = try ChildProcess.cascade(["kafka", "--brokers", "3", "--partitions", "3"])
        defer { broker.signal(SIGKILL) }
        let bootstrap = try await broker.awaitLine { $0.contains(":") }
        let config = KafkaConfiguration(bootstrapServers: bootstrap)

        // kcat → Swift
        let inbound = uniqueTopic("kcatToSwift")
        let lines = (0..<200).map { "key\($0):value \($0)" }.joined(separator: "\n") + "\n"
        let produced = try await runCommand(
            "kcat", ["-b", bootstrap, "-P", "-t", inbound, "-K", ":", "-H", "origin=kcat"], stdin: lines)
        #expect(produced.status == 0, "\(produced.stderr)")
        let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [inbound], from: .beginning))
        let messages = try await collect(consumer, count: 200)
        await consumer.shutdown()
        #expect(Set(messages.compactMap(\.keyString)) == Set((0..<200).map { "key\($0)" }))
        #expect(messages.allSatisfy { $0.header("origin") == Array("kcat".utf8) })
        #expect(messages.first { $0.keyString == "key7" }?.valueString == "value 7")

        // Swift → kcat
        let outbound = uniqueTopic("swiftToKcat")
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<200 { try await producer.send(topic: outbound, key: "k\(index)", value: Array("v\(index)".utf8)) }
        await producer.shutdown()
        let consumed = try await runCommand("kcat", ["-b", bootstrap, "-C", "-t", outbound, "-o", "beginning", "-e", "-f", "%k=%s\n"])
        #expect(consumed.status == 0, "\(consumed.stderr)")
        let pairs = Set(consumed.stdout.split(separator: "\n").map(String.init))
        #expect(pairs == Set((0..<200).map { "k\($0)=v\($0)" }))

        broker.signal(SIGINT)
        #expect(try await broker.awaitExit() == 0, "stops cleanly on SIGINT")
    }
}
