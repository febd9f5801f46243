import ArgumentParser
import CascadeGraph
import CascadeWire
import Foundation
import Histogram

public struct BenchGraphCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Instance-graph registrations and closure latency.",
        discussion: """
            Builds a synthetic instance graph (clusters of 120 keys, 4 deep, with cycles), \
            measures registrations/s, closure latency and resident memory per edge, and prints \
            them next to the floors. Exit 1 when a floor is missed. Build with -c release.
            """)

    @Option(help: "Cached keys in the synthetic graph.")
    var keys = 1_000_000

    @Option(help: "Dependencies per key (edges = keys × this).")
    var depsPerKey = 3

    @Option(help: "Closures to time.")
    var closures = 20_000

    @Option(help: "Random seed.")
    var seed: UInt64 = 42

    @Flag(help: "Print the figures as JSON.")
    var json = false

    public func validate() throws {
        guard keys >= SyntheticInstanceGraph.clusterSize else { throw ValidationError("--keys must be at least 120.") }
        guard depsPerKey >= 1, depsPerKey <= 16 else { throw ValidationError("--deps-per-key must be between 1 and 16.") }
        guard closures >= 1 else { throw ValidationError("--closures must be at least 1.") }
    }

    public func run() async throws {
        let synthetic = SyntheticInstanceGraph(keyCount: keys, dependenciesPerKey: depsPerKey, seed: seed)
        let index = InstanceIndex()
        let residentBefore = ResidentMemory.bytes()

        // Registrations, generated in chunks outside the timed part.
        let chunk = 10_000
        var registering = Duration.zero
        let clock = ContinuousClock()
        for start in stride(from: 0, to: keys, by: chunk) {
            let batch = synthetic.registrations(start..<min(keys, start + chunk))
            let began = clock.now
            index.register(contentsOf: batch)
            registering += clock.now - began
        }
        let residentAfter = ResidentMemory.bytes()
        let statistics = index.statistics
        let registrationsPerSecond = Double(keys) / registering.inSeconds

        // Closures from random cluster roots.
        var random = SplitMix64(seed: seed &+ 1)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        var totalKeys = 0
        var deepest = 0
        for _ in 0..<closures {
            let root = synthetic.root(cluster: Int(random.next() % UInt64(synthetic.clusterCount)))
            let began = clock.now
            let closure = index.closure(of: root)
            let elapsed = clock.now - began
            histogram.record(UInt64(max(0, elapsed.nanoseconds)))
            totalKeys += closure.entries.count
            deepest = max(deepest, closure.entries.last?.depth ?? 0)
        }

        let perEdge = Double(max(0, residentAfter - residentBefore)) / Double(max(1, statistics.edges))
        let report = GraphBenchReport(
            keys: statistics.registeredKeys, edges: statistics.edges,
            registrationsPerSecond: registrationsPerSecond,
            closureKeys: Double(totalKeys) / Double(closures), closureDepth: deepest,
            p50: Double(histogram.valueAtPercentile(50)) / 1000,
            p99: Double(histogram.valueAtPercentile(99)) / 1000,
            p999: Double(histogram.valueAtPercentile(99.9)) / 1000,
            bytesPerEdge: perEdge, indexBytesPerEdge: Double(statistics.approximateBytes) / Double(max(1, statistics.edges)))
        print(json ? report.json : report.table)
        if !report.meetsFloors { throw ExitCode(1) }
    }
}

/// The figures of one run and the floors of issue 3.
struct GraphBenchReport: Codable {
    var keys: Int
    var edges: Int
    var registrationsPerSecond: Double
    var closureKeys: Double
    var closureDepth: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var bytesPerEdge: Double
    var indexBytesPerEdge: Double

    static let registrationFloor = 1_000_000.0
    static let p99Ceiling = 50.0
    static let bytesPerEdgeCeiling = 150.0

    var meetsFloors: Bool {
        registrationsPerSecond >= Self.registrationFloor && p99 < Self.p99Ceiling && bytesPerEdge <= Self.bytesPerEdgeCeiling
    }

    var table: String {
        func row(_ name: String, _ value: String, _ floor: String, _ ok: Bool?) -> String {
            let verdict = ok.map { $0 ? "ok" : "MISSED" } ?? ""
            return name.padding(toLength: 26, withPad: " ", startingAt: 0)
                + value.leftPadded(14) + "   " + floor.padding(toLength: 16, withPad: " ", startingAt: 0) + verdict
        }
        return [
            "cascade bench graph: \(keys) keys, \(edges) edges, cycles in every cluster",
            row("figure", "measured", "floor", nil),
            row("registrations/s", String(format: "%.0f", registrationsPerSecond), ">= 1000000", registrationsPerSecond >= Self.registrationFloor),
            row("closure size (keys)", String(format: "%.1f", closureKeys), "~100", nil),
            row("closure depth", "\(closureDepth)", "4", nil),
            row("closure p50", String(format: "%.2f µs", p50), "", nil),
            row("closure p99", String(format: "%.2f µs", p99), "< 50 µs", p99 < Self.p99Ceiling),
            row("closure p999", String(format: "%.2f µs", p999), "", nil),
            row("resident bytes/edge", String(format: "%.1f", bytesPerEdge), "<= 150", bytesPerEdge <= Self.bytesPerEdgeCeiling),
            row("index bytes/edge", String(format: "%.1f", indexBytesPerEdge), "(own count)", nil),
        ].joined(separator: "\n")
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Resident set size from /proc/self/statm; 0 where it does not exist.
private enum ResidentMemory {
    static func bytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
