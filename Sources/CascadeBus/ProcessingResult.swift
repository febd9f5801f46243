import CascadeGraph
import CascadeWire

/// What the pipeline made of one consumed event: the messages to send (all of which must be
/// acknowledged before the event's offset is committed) and what to count.
public struct ProcessingResult: Sendable {
    public enum Outcome: Sendable, Hashable {
        /// A newer version: ledger advanced, cascade sent.
        case invalidated
        /// The version the ledger already has, same content: a redelivery. The cascade is sent
        /// again (idempotent) because a crash may have lost it.
        case duplicate
        /// Older than the ledger: counted; the cascade is sent fenced at the ledger's version.
        case late
        /// Same version, different content or origin: decided by policy.
        case conflict
        /// Older than the ledger but with news (another origin, or written later at its
        /// origin): decided by policy like a conflict, fenced at the ledger's version.
        case lateConflict
        case deadLetter(kind: String)
        /// A message its format defines as carrying no event (Debezium's tombstone after a
        /// delete): nothing sent, the offset committed.
        case skipped(reason: String)
        /// A hop (`StateHop`) from another share of the index, partitioned state only: its part
        /// of a cascade sent. Not an event.
        case handedOn
    }

    /// How many keys of one service an event invalidates.
    public struct ServiceFanOut: Sendable, Hashable {
        public var service: String
        public var keys: Int
    }

    public var outcome: Outcome
    public var messages: [OutboundMessage]
    /// Keys per affected service, in service-name order.
    public var fanOut: [ServiceFanOut]
    /// The cascade went through a circular component of the graph.
    public var throughCycle: Bool
    /// Bindings the event could not fill (an attribute it did not carry).
    public var unresolved: [String]
    /// Earlier events found concurrent with this one inside a circular component, each a
    /// conflict recorded and resolved here (the event's own outcome stays `invalidated`).
    public var cycleConflicts: Int = 0
    /// The event's `event_id`, once decoded (benchmarks follow events through the bus by it).
    public var eventID: String?
    /// The closure the event resolved and the cause its messages carry, for the bus's memory
    /// of cascades (`CascadeMemory`); nil for an event that caused no cascade.
    public var closure: InstanceClosure?
    public var cause: InvalidationMessage.Cause?
    public var kind: InvalidationMessage.Kind = .invalidate
    /// Partitioned state: where the cascade goes on (`process` gives them the event's credit
    /// and adds them to `messages`).
    public var hops: [StateHop] = []
    /// How many hops `messages` hands on (`cascade_bus_hops_sent_total`).
    public var hopsSent = 0
    /// Partitioned state: the event whose hops carry credit (`HopCredits`), and the credit this
    /// instance returns once what it sent is acknowledged.
    public var owedCredit: HopCredit.Origin?
    public var creditToReturn: HopCredit?
}
