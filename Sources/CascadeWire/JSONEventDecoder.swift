import Foundation

/// The plain JSON event form of DESIGN.md:
/// `{"entity", "id", "op", "version", "origin", "at", "attrs", "event_id"}`.
public struct JSONEventDecoder: DomainEventDecoder {
    public var maxBytes: Int

    public init(maxBytes: Int = 64 * 1024) {
        self.maxBytes = maxBytes
    }

    public func decode(_ bytes: [UInt8]) throws(EventRejection) -> DomainEvent {
        guard bytes.count <= maxBytes else {
            throw EventRejection("oversize", "event is \(bytes.count) bytes, the limit is \(maxBytes)")
        }
        guard !bytes.isEmpty else { throw EventRejection("empty", "message has no value") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw EventRejection("bad-json", "value is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw EventRejection("bad-json", "value is not a JSON object")
        }
        let entity = try string(object, "entity")
        let id = try string(object, "id")
        let opText = try string(object, "op")
        guard let op = DomainEvent.Operation(rawValue: opText) else {
            throw EventRejection("bad-op", "op '\(opText)' is not create, update or delete")
        }
        let version = try version(object)
        let origin = try string(object, "origin")
        var atMillis: Int64 = 0
        if let at = object["at"] {
            guard let text = at as? String else { throw EventRejection("wrong-type", "field 'at' is not a string") }
            guard let millis = Timestamps.parseMillis(text) else {
                throw EventRejection("bad-time", "field 'at' is not an RFC 3339 time: '\(text)'")
            }
            atMillis = millis
        }
        var attrs: [String: String] = [:]
        if let raw = object["attrs"], !(raw is NSNull) {
            guard let dict = raw as? [String: Any] else {
                throw EventRejection("wrong-type", "field 'attrs' is not an object")
            }
            for (name, value) in dict {
                switch value {
                case let text as String: attrs[name] = text
                case let number as NSNumber: attrs[name] = number.stringValue
                default: throw EventRejection("wrong-type", "attrs.\(name) is not a string or number")
                }
            }
        }
        let eventID = (object["event_id"] as? String) ?? "\(entity)#\(id)@\(version)/\(origin)"
        return DomainEvent(
            ref: EntityRef(entity: entity, id: id), op: op, version: version, origin: origin,
            atMillis: atMillis, attrs: attrs, eventID: eventID)
    }

    private func string(_ object: [String: Any], _ field: String) throws(EventRejection) -> String {
        guard let raw = object[field], !(raw is NSNull) else {
            throw EventRejection("missing-field", "field '\(field)' is missing")
        }
        guard let text = raw as? String else {
            throw EventRejection("wrong-type", "field '\(field)' is not a string")
        }
        guard !text.isEmpty else { throw EventRejection("missing-field", "field '\(field)' is empty") }
        return text
    }

    private func version(_ object: [String: Any]) throws(EventRejection) -> UInt64 {
        guard let raw = object["version"], !(raw is NSNull) else {
            throw EventRejection("missing-field", "field 'version' is missing")
        }
        // JSONSerialization yields NSNumber for numbers and Bool for true/false.
        guard !(raw is Bool), let number = raw as? NSNumber else {
            throw EventRejection("bad-version", "field 'version' is not a number")
        }
        guard number.doubleValue >= 0, number.doubleValue == Double(number.int64Value) else {
            throw EventRejection("bad-version", "field 'version' is not a non-negative whole number")
        }
        return UInt64(number.int64Value)
    }
}

/// Writes events in the plain JSON form (`cascade publish`, tests, benchmarks).
public enum JSONEventEncoder {
    public static func encode(_ event: DomainEvent) -> [UInt8] {
        var object: [String: Any] = [
            "entity": event.ref.entity, "id": event.ref.id, "op": event.op.rawValue,
            "version": event.version, "origin": event.origin, "event_id": event.eventID,
        ]
        if event.atMillis != 0 { object["at"] = Timestamps.format(millis: event.atMillis) }
        if !event.attrs.isEmpty { object["attrs"] = event.attrs }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return [UInt8](data)
    }
}
