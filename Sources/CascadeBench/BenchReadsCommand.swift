import ArgumentParser
import CascadeBus
import CascadeClient
import CascadeRESP
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

public struct BenchReadsCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "Strong and session reads: publish, CASCADE.AFTER on every node, then GET.",
        discussion: """
            Runs the embedded broker, the bus and a node per service of the example graph in this \
            process. Each try caches a product (and a value computed from it on another service), \
            publishes the product's next version, asks every node CASCADE.AFTER with the event's \
            token (what `cascade publish --wait` does), then reads both values back: neither may \
            be there. Prints how many reads returned the old value and how long CASCADE.AFTER took \
            on nodes the event reached and on one it did not (user-service caches nothing on \
            products). Floors: 0 stale, and p99 < 50 ms on the node not reached.
            """
    )

    @Option(help: "Tries.")
    var tries: Int = 1000

    @Option(help: "The graph directory.")
    var graph: String = "graph"

    public func run() async throws {
        quietLogging()
        guard tries > 0 else { throw ValidationError("--tries must be positive") }
        let (cacheGraph, _) = try loadGraph(directory: graph)
        let cluster = try await InProcessCluster(graph: cacheGraph, services: cacheGraph.serviceNames, partitions: 4)
        let ready = cluster.ready
        let producer = cluster.producer
        let topics = cluster.topics
        let nodes = ready.nodes.map { AppliedWait.Node(service: $0.key, address: $0.value) }
        let product = try await RESPConnection(ready.nodes["product-service"] ?? "")
        let analytics = try await RESPConnection(ready.nodes["analytics-service"] ?? "")
        let waiter = AppliedWait(password: nil, timeoutMillis: 10_000)

        printLine("cascade bench reads: embedded broker, bus and \(nodes.count) nodes in one process, example graph, \(tries) tries")
        var stale = 0
        var timeouts = 0
        var reached: [Double] = []
        var unreached: [Double] = []
        // The first try also waits for the bus's consumer to join: not counted.
        for attempt in -1..<tries {
            let id = "p-\((attempt + 50) % 50)"
            let version = UInt64(attempt + 2)
            _ = try await product.run("SET", "product:\(id)", "v\(version)", "DEPS", "Product#\(id)@\(version)")
            _ = try await analytics.run("SET", "stats:product:\(id)", "v\(version)", "DEPS", "product-service/product:\(id)")
            let event = DomainEvent(
                ref: EntityRef(entity: "Product", id: id), op: .update, version: version + 1, origin: "bench",
                atMillis: Timestamps.nowMillis(), attrs: ["category": "c1"], eventID: "reads-\(attempt)")
            let report = try await producer.send(topic: topics.events, key: event.kafkaKey, value: JSONEventEncoder.encode(event))
            let answers = await waiter.ask(nodes, token: "\(report.partition):\(report.offset)")
            guard attempt >= 0 else { continue }
            for answer in answers {
                if !answer.applied { timeouts += 1 }
                switch answer.node.service {
                case "product-service", "analytics-service": reached.append(answer.millis)
                case "user-service": unreached.append(answer.millis)
                default: break
                }
            }
            if try await product.run("GET", "product:\(id)") != .null { stale += 1 }
            if try await analytics.run("GET", "stats:product:\(id)") != .null { stale += 1 }
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        printLine("reads after CASCADE.AFTER on every node: \(tries * 2), old value returned: \(stale), timeouts: \(timeouts)")
        printLine("CASCADE.AFTER ms            p50      p99      max")
        for (name, values) in [("nodes reached", reached), ("node not reached", unreached)] {
            let padded = name.padding(toLength: 20, withPad: " ", startingAt: 0)
            printLine(padded + String(format: " %8.2f %8.2f %8.2f", percentile(values, 0.5), percentile(values, 0.99), values.max() ?? 0))
        }
        let held = stale == 0 && timeouts == 0 && percentile(unreached, 0.99) < 50
        printLine("floors: 0 stale, no timeout, p99 < 50 ms on the node not reached: \(held ? "held" : "MISSED")")
        await cluster.stop()
        if !held { throw ExitCode(1) }
    }
}

/// One RESP connection for the reads benchmark's commands.
final class RESPConnection: Sendable {
    private let client: NodeClient

    init(_ address: String) async throws {
        client = try await NodeClient(address: address, timeout: 15, password: nil)
    }

    func run(_ arguments: String...) async throws -> RESPValue {
        try await client.command(encodeRESPCommand(arguments.map { Array($0.utf8) }))
    }
}
