import Foundation

/// The outcome of one `cascade check` run.
public struct CheckReport: Sendable {
    public struct ServiceSummary: Sendable, Equatable {
        public var service: String
        public var keys: Int
        public var stale: Int

        public init(service: String, keys: Int, stale: Int) {
            self.service = service
            self.keys = keys
            self.stale = stale
        }
    }

    public var services: [ServiceSummary]
    public var stale: [StaleKey]
    /// Distinct entity instances whose ledger versions were read.
    public var ledgerLookups: Int
    public var finishedAt: Date
    public var durationSeconds: Double
    public var repair: Bool

    public init(
        services: [ServiceKeys], stale: [StaleKey], ledgerLookups: Int = 0, finishedAt: Date = Date(),
        durationSeconds: Double = 0, repair: Bool = false
    ) {
        self.services = services.map { node in
            ServiceSummary(service: node.service, keys: node.keys.count, stale: stale.filter { $0.service == node.service }.count)
        }.sorted { $0.service < $1.service }
        self.stale = stale.sorted { ($0.service, $0.name) < ($1.service, $1.name) }
        self.ledgerLookups = ledgerLookups
        self.finishedAt = finishedAt
        self.durationSeconds = durationSeconds
        self.repair = repair
    }

    public var totalKeys: Int { services.reduce(0) { $0 + $1.keys } }
    public var staleKeys: Int { stale.count }
    public var isConsistent: Bool { stale.isEmpty }

    /// Share of keys that are not stale; 1 when there are no keys.
    public var consistencyRatio: Double {
        totalKeys == 0 ? 1 : Double(totalKeys - staleKeys) / Double(totalKeys)
    }

    /// -log10(1 - ratio): 99.9 % is 3 nines. Nil when nothing is stale (unbounded).
    public var nines: Double? { Nines.of(consistencyRatio) }
}

public enum Nines {
    public static func of(_ ratio: Double) -> Double? {
        guard ratio < 1 else { return nil }
        guard ratio > 0 else { return 0 }
        return -log10(1 - ratio)
    }

    /// `99.95% (3.3 nines)`, or `100%` when nothing is stale.
    public static func describe(_ ratio: Double) -> String {
        guard let nines = of(ratio) else { return "100%" }
        return "\(percent(ratio)) (\(String(format: "%.1f", nines)) nines)"
    }

    /// A percentage with enough decimals to show the first digit that is not 9, rounded down,
    /// so 99.9996 % never prints as a misleading 100 %.
    public static func percent(_ ratio: Double) -> String {
        guard let nines = of(ratio) else { return "100%" }
        let decimals = max(0, Int(nines.rounded(.up)) - 2)
        let factor = pow(10, Double(decimals))
        // The epsilon keeps 0.999, which is 0.99899... in binary, at 99.9.
        return String(format: "%.\(decimals)f%%", (ratio * 100 * factor + 1e-6).rounded(.down) / factor)
    }
}
