/// The topic names of one Cascade installation; `prefix` defaults to `cascade.`.
public struct Topics: Sendable, Hashable {
    public var prefix: String

    public init(prefix: String = "cascade.") {
        self.prefix = prefix
    }

    public var events: String { prefix + "events" }
    public var deps: String { prefix + "deps" }
    public var conflicts: String { prefix + "conflicts" }
    public var ledger: String { prefix + "ledger" }
    public var dlq: String { prefix + "dlq" }
    /// Each node's report of what it has applied, about once a second: liveness and lag.
    public var nodes: String { prefix + "nodes" }
    /// Each bus instance's beacon, ten times a second: liveness and partition ownership.
    public var buses: String { prefix + "buses" }
    /// Partitioned state: the registration index's edges, by the partition of their dependency
    /// (compacted; `EdgeRecord`).
    public var edges: String { prefix + "edges" }
    /// Partitioned state: cascades handed from one share of the index to another (`StateHop`).
    public var hops: String { prefix + "hops" }

    public func invalidations(service: String) -> String { prefix + "inval." + service }

    /// Refresh hints of one service: hot keys its nodes dropped because of an invalidation.
    public func refresh(service: String) -> String { prefix + "refresh." + service }

    /// Every topic an installation with these services uses.
    public func all(services: [String]) -> [String] {
        [events, deps, conflicts, ledger, dlq, nodes, buses, edges, hops] + services.map(invalidations(service:)) + services.map(refresh(service:))
    }
}
