import CascadeGraph
import CascadeWire

/// Picks the winner of two events for one entity instance, by the entity's policy, or of two
/// concurrent events inside one circular component. The orders are total, so the winner does
/// not depend on which event arrived first.
enum ConflictArbiter {
    struct Contender: Sendable, Hashable {
        var version: UInt64
        var atMillis: Int64
        var origin: String
        var digest: UInt64
        var eventID: String

        init(_ record: LedgerRecord) {
            version = record.version
            atMillis = record.atMillis
            origin = record.origin
            digest = record.digest
            eventID = record.eventID
        }
    }

    /// True when `a` beats `b`. Default policy: highest version, then latest `at`, then the
    /// origin name first in alphabetical order; the content digest breaks any remaining tie.
    static func beats(_ a: Contender, _ b: Contender, policy: ConflictPolicy) -> Bool {
        switch policy {
        case .highestVersion:
            if a.version != b.version { return a.version > b.version }
            if a.atMillis != b.atMillis { return a.atMillis > b.atMillis }
        case .lastWriterWins:
            if a.atMillis != b.atMillis { return a.atMillis > b.atMillis }
            if a.version != b.version { return a.version > b.version }
        case .originPriority(let origins):
            let rankA = origins.firstIndex(of: a.origin) ?? origins.count
            let rankB = origins.firstIndex(of: b.origin) ?? origins.count
            if rankA != rankB { return rankA < rankB }
            if a.version != b.version { return a.version > b.version }
            if a.atMillis != b.atMillis { return a.atMillis > b.atMillis }
        }
        if a.origin != b.origin { return a.origin < b.origin }
        if a.digest != b.digest { return a.digest < b.digest }
        return a.eventID < b.eventID
    }

    /// True when `a` beats `b`, two events for different instances of one circular component
    /// (a cycle conflict). Their versions number different entities and cannot be compared,
    /// and the two entities may have different policies, so one order serves every cycle:
    /// the latest `at`, then the origin name first in alphabetical order (the two origins
    /// always differ), then the event id. Total, so arrival order does not matter.
    static func beatsInCycle(_ a: Contender, _ b: Contender) -> Bool {
        if a.atMillis != b.atMillis { return a.atMillis > b.atMillis }
        if a.origin != b.origin { return a.origin < b.origin }
        return a.eventID < b.eventID
    }

    /// The policy name a cycle conflict's record carries.
    static let cyclePolicyName = "cycle-latest-at"

    static func policyName(_ policy: ConflictPolicy) -> String {
        switch policy {
        case .highestVersion: return "highest-version"
        case .lastWriterWins: return "last-writer-wins"
        case .originPriority: return "origin-priority"
        }
    }
}
