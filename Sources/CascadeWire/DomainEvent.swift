import Foundation

/// A change to one entity instance, as services publish it on `cascade.events`.
public struct DomainEvent: Sendable, Hashable {
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case create, update, delete
    }

    public var ref: EntityRef
    public var op: Operation
    public var version: UInt64
    public var origin: String
    /// Milliseconds since 1970 at the origin; 0 when the event did not say.
    public var atMillis: Int64
    public var attrs: [String: String]
    public var eventID: String

    public init(
        ref: EntityRef, op: Operation, version: UInt64, origin: String,
        atMillis: Int64 = 0, attrs: [String: String] = [:], eventID: String
    ) {
        self.ref = ref
        self.op = op
        self.version = version
        self.origin = origin
        self.atMillis = atMillis
        self.attrs = attrs
        self.eventID = eventID
    }

    public var kafkaKey: String { ref.description }
}

/// Why an event could not be taken; the text goes into the dead-letter headers.
public struct EventRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// Short machine-readable kind, e.g. `bad-json`, `missing-field`, `wrong-type`.
    public var kind: String
    public var detail: String

    public init(_ kind: String, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}

/// Turns raw message bytes into a domain event. A protocol so that CloudEvents or Debezium
/// envelopes can replace the plain JSON form without touching the bus.
public protocol DomainEventDecoder: Sendable {
    func decode(_ bytes: [UInt8]) throws(EventRejection) -> DomainEvent
}
