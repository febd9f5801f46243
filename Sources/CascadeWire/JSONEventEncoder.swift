import Foundation

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
