import ArgumentParser
import Foundation

public struct BenchTTLCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "ttl",
        abstract: "Replay a skewed workload with changes: hit ratio and stale reads for fixed TTLs next to adaptive ones.",
        discussion: """
            Four families of 1,000 keys (two covered by invalidations, two only by their TTL; \
            in each pair one rarely and one often changing), Zipf reads, simulated time. The \
            stale-read rate is over the reads of the TTL-only families.
            """
    )

    @Option(help: "Fixed TTLs to compare, in seconds, comma-separated.")
    var fixed: String = "30,300,1800,7200"

    @Option(help: "Simulated hours.")
    var hours: Double = 4

    @Option(help: "Reads per simulated second.")
    var readsPerSecond: Double = 200

    @Option(help: "Stale-read share the adaptive TTL of a TTL-only family aims at.")
    var staleTarget: Double = 0.01

    @Option(help: "Zipf exponent of key popularity.")
    var zipf: Double = 1.0

    public func validate() throws {
        guard fixedTTLs != nil else { throw ValidationError("--fixed must be positive whole seconds, e.g. 30,300") }
        guard hours > 0, readsPerSecond > 0, staleTarget > 0, staleTarget < 1 else {
            throw ValidationError("--hours, --reads-per-second must be positive and --stale-target between 0 and 1")
        }
    }

    private var fixedTTLs: [Int64]? {
        let values = fixed.split(separator: ",").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.compactMap { $0 }
    }

    public func run() throws {
        var benchmark = TTLBenchmark()
        benchmark.durationSeconds = hours * 3600
        benchmark.readsPerSecond = readsPerSecond
        benchmark.staleTarget = staleTarget
        benchmark.zipfExponent = zipf
        let results = try benchmark.run(fixedTTLs: fixedTTLs ?? [])
        print(TTLBenchmark.table(results, families: benchmark.families))
    }
}
