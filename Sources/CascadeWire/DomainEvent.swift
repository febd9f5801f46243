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
    /// The W3C traceparent the envelope itself carried (CloudEvents' `traceparent` extension),
    /// as written; a Kafka `traceparent` header is the bus's to read. Not part of what the event says.
    public var traceparent: String?

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

    /// What a decoder says when the scanner found no valid JSON.
    static func badJSON(_ failure: JSONScanner.Failure) -> EventRejection {
        EventRejection("bad-json", "value is not valid JSON (\(failure.reason) at byte \(failure.offset))")
    }

    /// Any error met while decoding, as a rejection: a rejection stays as it is.
    static func from(_ error: any Error) -> EventRejection {
        switch error {
        case let rejection as EventRejection: rejection
        case let failure as JSONScanner.Failure: badJSON(failure)
        default: EventRejection("bad-json", "\(error)")
        }
    }
}

/// One consumed message as a decoder sees it: key, value (nil for a tombstone) and headers.
/// Envelopes differ in where they keep things: Debezium puts the id in the key, CloudEvents'
/// binary mode puts its attributes in headers.
public struct SourceMessage: Sendable {
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: [UInt8]?

        public init(_ name: String, _ value: [UInt8]?) {
            self.name = name
            self.value = value
        }
    }

    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [Header]

    public init(key: [UInt8]?, value: [UInt8]?, headers: [Header] = []) {
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// The last header of that name (Kafka allows repeats; the latest wins).
    public func header(_ name: String) -> [UInt8]? {
        headers.last { $0.name == name }?.value
    }
}

/// What a decoder made of a message: an event, or a message the format defines as carrying
/// none (Debezium's tombstone after a delete), which is skipped rather than dead-lettered.
public enum DecodedMessage: Sendable, Hashable {
    case event(DomainEvent)
    case skip(reason: String)
}

/// Turns a consumed message into a domain event. A protocol so that CloudEvents or Debezium
/// envelopes replace the plain JSON form without touching the bus; one decoder per source
/// topic. A message it cannot read is an `EventRejection` (dead-lettered with the reason).
public protocol DomainEventDecoder: Sendable {
    func decode(_ message: SourceMessage) throws(EventRejection) -> DecodedMessage
}
