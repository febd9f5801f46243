import ArgumentParser
import CascadeBus
import CascadeClient
import CascadeGateway
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeNode
import CascadeSync
import CascadeSystem
import CascadeWire
import Foundation
import HTTPTypes
import Histogram
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import ServiceLifecycle

public struct BenchGatewayCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Gateway hits against the upstream's round trip (wrk), and purge latency next to a node's.",
        discussion: """
            An upstream (`cascade bench upstream`, a separate process) answers after --delay-ms. \
            wrk (a separate process) loads the upstream directly, then a cached URL through the \
            gateway (in this process): requests/s and latency of each. Each is loaded with one connection (what one request costs) and with --connections (what \
            it holds). Then the embedded broker, \
            the bus, a product-service node and the gateway in this process: --products responses \
            cached with Surrogate-Key Product#p-N and node keys depending on the same products; \
            one event per product, timed from produce to each one's invalidation. Exit 1 when a \
            floor is missed: hit p50 ≤ 1/5 of the upstream's (one connection), ≥ 20,000 hits/s, purge p99 within \
            2 ms of the node's.
            """)

    @Option(help: "Milliseconds the upstream takes per request.")
    var delayMs: Int = 5

    @Option(help: "Seconds of wrk load per run.")
    var seconds: Int = 5

    @Option(help: "wrk connections.")
    var connections: Int = 64

    @Option(help: "wrk threads.")
    var threads: Int = 1

    @Option(help: "Products (cached responses and node keys) in the purge run.")
    var products: Int = 500

    @Option(help: "Events per second in the purge run.")
    var rate: Int = 500

    @Option(help: "The graph directory.")
    var graph: String = "graph"

    public func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        guard let wrk = which("wrk") else { throw OperatorError("wrk is not installed (apt-get install wrk)") }
        let upstream = try await BenchUpstreamProcess.start(delayMs: delayMs)
        defer { upstream.stop() }
        printLine("cascade bench gateway: upstream takes \(delayMs) ms, wrk -t\(threads) -c\(connections) -d\(seconds)s, gateway in this process")

        // Phase 1: hits against the upstream's round trip.
        // One connection for what a request costs, --connections for what the gateway holds.
        let directOne = try await Wrk.run(wrk, url: "\(upstream.url)/bench", threads: 1, connections: 1, seconds: seconds)
        let direct = try await Wrk.run(wrk, url: "\(upstream.url)/bench", threads: threads, connections: connections, seconds: seconds)
        let (cacheGraph, _) = try loadGraph(directory: graph)
        let tracker = PurgeTracker()
        let cluster = try await GatewayBenchCluster(graph: cacheGraph, upstream: upstream.url, tracker: tracker)
        defer { cluster.cluster.kafka.shutdown() }
        _ = await cluster.gateway.cache.handle(GatewayRequest(method: "GET", path: "/bench", headers: []))
        let hitsOne = try await Wrk.run(wrk, url: "\(cluster.gatewayURL)/bench", threads: 1, connections: 1, seconds: seconds)
        let hits = try await Wrk.run(wrk, url: "\(cluster.gatewayURL)/bench", threads: threads, connections: connections, seconds: seconds)

        // Phase 2: purge through the bus, gateway next to node.
        try await purge(cluster, tracker: tracker)
        await cluster.stop()

        printLine("run                             req/s    p50 ms   p99 ms")
        printLine(directOne.row("upstream, 1 connection"))
        printLine(hitsOne.row("gateway hits, 1 connection"))
        printLine(direct.row("upstream, \(connections) connections"))
        printLine(hits.row("gateway hits, \(connections) connections"))
        let hitRatio = hitsOne.p50Millis / max(directOne.p50Millis, 0.001)
        printLine(String(format: "hit p50 / upstream round trip p50 (1 connection) %.3f   floor <= 0.20   %@", hitRatio, hitRatio <= 0.2 ? "ok" : "MISSED"))
        printLine(String(format: "hits/s %.0f   floor >= 20000   %@", hits.requestsPerSecond, hits.requestsPerSecond >= 20_000 ? "ok" : "MISSED"))
        let purgeMet = reportPurge(tracker)
        if hitRatio > 0.2 || hits.requestsPerSecond < 20_000 || !purgeMet { throw ExitCode(1) }
    }

    /// One event per product, paced at `rate`, after every registration is indexed and a few
    /// warm-up events went through; returns once all are applied or 20 s have passed.
    private func purge(_ cluster: GatewayBenchCluster, tracker: PurgeTracker) async throws {
        for product in 0..<products {
            _ = cluster.node.node.set(
                "product:p-\(product)", Array("v".utf8), expiresAtMillis: nil,
                dependencies: [.entity(EntityRef(entity: "Product", id: "p-\(product)"), version: 1)])
            _ = await cluster.gateway.cache.handle(GatewayRequest(method: "GET", path: "/products/p-\(product)", headers: []))
        }
        // The registrations must be in the bus's index before the events.
        let deadline = ContinuousClock.now + .seconds(60)
        try await cluster.awaitIndexed(2 * products, until: deadline)
        // A few events through first, so the bus has joined its group and both sides have read
        // every partition of their topics (a partition's first message waited up to a second
        // on the embedded broker, for node and gateway alike).
        let warmUps = 16
        for n in 0..<warmUps {
            _ = cluster.node.node.set("product:warm-\(n)", Array("v".utf8), expiresAtMillis: nil, dependencies: [])
            _ = await cluster.gateway.cache.handle(GatewayRequest(method: "GET", path: "/products/warm-\(n)", headers: []))
        }
        try await cluster.awaitIndexed(2 * products + warmUps, until: deadline)
        // Past the race window, so the warm-ups' registrations are not invalidated at once.
        try await Task.sleep(for: .seconds(2))
        for n in 0..<warmUps {
            try await cluster.publish(Self.event("warm-\(n)", version: 1, id: "warm-\(n)"), tracker: tracker)
        }
        guard await tracker.awaitApplied(warmUps, until: deadline) else { throw OperatorError("the warm-up events were not applied within 60 s") }
        tracker.reset()
        // Past the race window, so registrations without a version are not invalidated at once.
        try await Task.sleep(for: .seconds(2))
        let start = ContinuousClock.now
        for product in 0..<products {
            let due = start + .milliseconds(product * 1000 / max(1, rate))
            if due > .now { try await Task.sleep(until: due) }
            try await cluster.publish(Self.event("p-\(product)", version: 2, id: "purge-\(product)"), tracker: tracker)
        }
        // What is not applied within 20 s shows in the counts below and misses the floor.
        _ = await tracker.awaitApplied(products, until: .now + .seconds(20))
    }

    private static func event(_ product: String, version: UInt64, id: String) -> DomainEvent {
        DomainEvent(ref: EntityRef(entity: "Product", id: product), op: .update, version: version, origin: "bench", eventID: id)
    }

    /// Prints purge latency of gateway and node; true when the gateway's floor holds.
    private func reportPurge(_ tracker: PurgeTracker) -> Bool {
        let nodeLatency = tracker.histogram(of: "node")
        let gatewayLatency = tracker.histogram(of: "gateway")
        func ms(_ histogram: Histogram<UInt64>, _ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
        printLine("purge (event produced -> invalidation applied), \(products) events at \(rate)/s:")
        printLine(String(format: "  node      %4d applied   p50 %6.2f ms   p99 %6.2f ms", tracker.count(of: "node"), ms(nodeLatency, 50), ms(nodeLatency, 99)))
        printLine(String(format: "  gateway   %4d applied   p50 %6.2f ms   p99 %6.2f ms", tracker.count(of: "gateway"), ms(gatewayLatency, 50), ms(gatewayLatency, 99)))
        let gap = ms(gatewayLatency, 99) - ms(nodeLatency, 99)
        let met = gap <= 2 && tracker.count(of: "gateway") == products
        printLine(String(format: "gateway p99 - node p99 %.2f ms   floor <= 2 ms   %@", gap, met ? "ok" : "MISSED"))
        return met
    }

    private func which(_ name: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// `cascade bench upstream`: the bench's upstream, a separate process. /bench answers 512
/// bytes after the delay with max-age=600; /products/<id> also names Product#<id> as its
/// surrogate key. Prints `listening PORT`.
public struct BenchUpstreamCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "upstream", abstract: "The upstream `cascade bench gateway` runs (a separate process).", shouldDisplay: false)

    @Option var delayMs: Int = 5
    @Option var port: Int = 0

    public func run() async throws {
        let delay = Duration.milliseconds(delayMs)
        let body = String(repeating: "x", count: 512)
        let router = Router()
        router.get("/bench") { _, _ in
            try await Task.sleep(for: delay)
            return Response(
                status: .ok, headers: [.cacheControl: "max-age=600", .contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/products/:id") { _, context in
            try await Task.sleep(for: delay)
            let id = context.parameters.get("id") ?? ""
            var headers: HTTPFields = [.cacheControl: "max-age=600", .contentType: "application/json"]
            if let name = HTTPField.Name("Surrogate-Key") { headers[name] = "Product#\(id)" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"id\":\"\(id)\"}")))
        }
        var logger = Logger(label: "bench.upstream")
        logger.logLevel = .error
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bench-upstream"),
            onServerRunning: { channel in printLine("listening \(channel.localAddress?.port ?? 0)") }, logger: logger)
        try await app.runService()
    }
}

/// The upstream process of the bench.
struct BenchUpstreamProcess {
    let process: Process
    let url: String

    static func start(delayMs: Int) async throws -> BenchUpstreamProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = ["bench", "upstream", "--delay-ms", String(delayMs)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The first line names the port; reading it is the wait.
        var line = Data()
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1), let first = byte.first, first != 10 { line.append(first) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening "), let port = Int(text.dropFirst("listening ".count)) else {
            process.terminate()
            throw OperatorError("the bench upstream did not start: \(text)")
        }
        return BenchUpstreamProcess(process: process, url: "http://127.0.0.1:\(port)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// One wrk run, its summary parsed.
struct Wrk {
    var requestsPerSecond: Double
    var p50Millis: Double
    var p99Millis: Double

    func row(_ name: String) -> String {
        name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %9.0f %9.3f %8.3f", requestsPerSecond, p50Millis, p99Millis)
    }

    static func run(_ wrk: String, url: String, threads: Int, connections: Int, seconds: Int) async throws -> Wrk {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: try pipe.fileHandleForReading.readToEnd() ?? Data(), as: UTF8.self)
        process.waitUntilExit()
        func latency(_ label: String) -> Double {
            guard let line = output.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }),
                  let value = line.split(separator: " ").last
            else { return .nan }
            return millis(String(value))
        }
        let rate = output.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        return Wrk(requestsPerSecond: rate, p50Millis: latency("50%"), p99Millis: latency("99%"))
    }

    /// `812.00us`, `5.21ms`, `1.02s` → ms.
    static func millis(_ text: String) -> Double {
        for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return (Double(text.dropLast(suffix.count)) ?? .nan) * factor
        }
        return .nan
    }
}

/// Per-side latency from an event's produce to its invalidation applied.
final class PurgeTracker: Sendable {
    private struct State {
        var started: [String: ContinuousClock.Instant] = [:]
        var histograms: [String: Histogram<UInt64>] = [:]
        var counts: [String: Int] = [:]
        var seen: Set<String> = []
    }

    private let state = NIOLockedValueBox(State())
    /// Moves when either side applies an event.
    private let progress = ChangeSignal()

    func started(_ id: String) { state.withLockedValue { state in state.started[id] = .now } }

    func applied(_ message: InvalidationMessage, by side: String) {
        let now = ContinuousClock.now
        let counted = state.withLockedValue { state -> Bool in
            guard let start = state.started[message.cause.eventID], state.seen.insert(side + message.cause.eventID).inserted else {
                return false
            }
            var histogram = state.histograms[side] ?? Histogram<UInt64>(highestTrackableValue: 60_000_000)
            _ = histogram.record(UInt64(max(0, (now - start).inSeconds * 1_000_000)))
            state.histograms[side] = histogram
            state.counts[side, default: 0] += 1
            return true
        }
        if counted { progress.changed() }
    }

    func count(of side: String) -> Int { state.withLockedValue { state in state.counts[side] ?? 0 } }

    /// Waits until node and gateway each applied `count` events; false at `deadline`.
    func awaitApplied(_ count: Int, until deadline: ContinuousClock.Instant) async -> Bool {
        await progress.wait(until: deadline) { self.count(of: "node") >= count && self.count(of: "gateway") >= count }
    }

    func reset() {
        state.withLockedValue { state in
            state.started = [:]
            state.histograms = [:]
            state.counts = [:]
            state.seen = []
        }
    }
    func histogram(of side: String) -> Histogram<UInt64> {
        state.withLockedValue { state in state.histograms[side] ?? Histogram<UInt64>(highestTrackableValue: 60_000_000) }
    }
}

/// The embedded broker, the bus, a product-service node and the gateway in this process
/// (`LocalSystem`, as `cascade dev` runs them), for the purge run of `bench gateway`.
private final class GatewayBenchCluster: Sendable {
    let cluster: InProcessCluster
    let gatewayURL: String
    let node: NodeRuntime
    let gateway: GatewayRuntime
    private let indexed = NIOLockedValueBox(0)
    private let indexing = ChangeSignal()

    init(graph: CacheGraph, upstream: String, tracker: PurgeTracker) async throws {
        let (indexed, indexing) = (self.indexed, self.indexing)
        cluster = try await InProcessCluster(
            graph: graph, services: ["product-service"], partitions: 4,
            onApplied: { message, service in tracker.applied(message, by: service == "product-service" ? "node" : "gateway") },
            plan: { plan in
            plan.gateway = .init(configuration: GatewayConfiguration(upstream: upstream, port: 0))
            plan.bus = {
                $0.onIndexed = { registrations in
                    indexed.withLockedValue { $0 += registrations }
                    indexing.changed()
                }
            }
        })
        guard let node = cluster.system.nodes["product-service"], let gateway = cluster.system.gateway,
              let gatewayURL = cluster.ready.gateway
        else { throw OperatorError("the gateway did not start") }
        (self.node, self.gateway, self.gatewayURL) = (node, gateway, gatewayURL)
    }

    /// Returns once the bus has indexed `count` registrations; throws at `deadline`.
    func awaitIndexed(_ count: Int, until deadline: ContinuousClock.Instant) async throws {
        guard await indexing.wait(until: deadline, for: { self.indexed.withLockedValue { $0 } >= count }) else {
            throw OperatorError("the bus indexed \(indexed.withLockedValue { $0 }) of \(count) registrations within 60 s")
        }
    }

    func publish(_ event: DomainEvent, tracker: PurgeTracker) async throws {
        tracker.started(event.eventID)
        try await cluster.producer.produce(
            topic: cluster.topics.events, key: Array(event.kafkaKey.utf8), value: JSONEventEncoder.encode(event), token: 0)
    }

    func stop() async {
        await cluster.stop()
    }
}
