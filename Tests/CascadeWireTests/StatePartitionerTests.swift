@testable import CascadeWire
import CascadeTestSupport
import Foundation
import Testing

@Suite("StatePartitioner: Kafka's default partitioner")
struct StatePartitionerTests {
    /// Kafka's own test vectors for `Utils.murmur2` (signed, as Java prints them).
    @Test("murmur2 matches Kafka's published values", arguments: [
        ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func murmur2(key: String, expected: Int) {
        var key = key
        let hash = key.withUTF8 { StatePartitioner.murmur2($0) }
        #expect(Int(Int32(bitPattern: hash)) == expected)
    }

    @Test("partitions are the positive hash modulo the count, spread over every partition")
    func spread() {
        let partitioner = StatePartitioner(count: 7)
        var counts = [Int](repeating: 0, count: 7)
        for index in 0..<7000 { counts[Int(partitioner.partition(of: "Product#\(index)"))] += 1 }
        #expect(counts.allSatisfy { $0 > 800 && $0 < 1200 }, "\(counts)")
        #expect(StatePartitioner(count: 1).partition(of: "anything") == 0)
        // "21" hashes to a negative Int32: the sign bit is cleared, never negated.
        #expect(StatePartitioner(count: 1000).partition(of: "21") == Int32((UInt32(bitPattern: -973_932_308) & 0x7fff_ffff) % 1000))
    }

    /// The independent truth: where librdkafka's Kafka-compatible partitioner puts each key
    /// on a real broker (`cascade kafka`), read back with kcat.
    @Test("kcat with partitioner=murmur2_random puts every key where StatePartitioner says", .enabled(if: findExecutable("kcat") != nil))
    func agreesWithLibrdkafka() async throws {
        let broker = try ChildProcess.cascade(["kafka"])
        defer { broker.signal(SIGKILL) }
        let bootstrap = try await broker.awaitLine { $0.contains(":") }
        let topic = "partitioner-\(UInt32.random(in: 0...UInt32.max))"
        let keys = (0..<300).map { $0 % 3 == 0 ? "Product#\($0)" : "orders/order-summary:\($0)" }
        let produced = try await runCommand(
            "kcat", ["-b", bootstrap, "-P", "-t", topic, "-K", "\t", "-X", "partitioner=murmur2_random"],
            stdin: keys.map { "\($0)\tv" }.joined(separator: "\n") + "\n")
        try produced.requireSuccess()
        let consumed = try await runCommand("kcat", ["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k %p\n"])
        try consumed.requireSuccess()
        var placed: [String: Int32] = [:]
        for line in consumed.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let partition = Int32(fields[1]) { placed[String(fields[0])] = partition }
        }
        #expect(placed.count == keys.count)
        // The broker creates the topic on first use, with its own default count.
        let listing = try await runCommand("kcat", ["-b", bootstrap, "-L", "-t", topic])
        try listing.requireSuccess()
        let count = try #require(listing.stdout.firstMatch(of: /with (\d+) partitions/).flatMap { Int32($0.1) })
        #expect(count > 2)
        let partitioner = StatePartitioner(count: count)
        let misplaced = keys.filter { placed[$0] != partitioner.partition(of: $0) }
        #expect(misplaced.isEmpty, "\(misplaced.prefix(5).map { "\($0): kcat \(placed[$0] ?? -1), ours \(partitioner.partition(of: $0))" })")
        #expect(Set(placed.values).count == Int(count), "the keys reach every partition")
    }
}
