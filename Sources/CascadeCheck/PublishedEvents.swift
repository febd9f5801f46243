import CascadeWire
import Foundation

/// What `cascade publish` sends, as (Kafka key, JSON bytes).
public enum PublishedEvents {
    /// One event from the command line; `attrs` are `k=v` (a bare `k` is an empty value).
    public static func single(
        ref: EntityRef, op: DomainEvent.Operation, version: UInt64, origin: String, attrs: [String]
    ) -> (String, [UInt8]) {
        var attributes: [String: String] = [:]
        for attr in attrs {
            let parts = attr.split(separator: "=", maxSplits: 1)
            attributes[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let event = DomainEvent(
            ref: ref, op: op, version: version, origin: origin, atMillis: Timestamps.nowMillis(),
            attrs: attributes, eventID: UUID().uuidString.lowercased())
        return (event.kafkaKey, JSONEventEncoder.encode(event))
    }

    /// JSON lines from `next` (e.g. `readLine`), sent as they are: the bus validates them. The
    /// key comes from the line when it parses, so one entity's events stay on one partition.
    public static func lines(_ next: () -> String?) -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = []
        while let line = next() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let bytes = Array(trimmed.utf8)
            let key = (try? JSONEventDecoder().decode(bytes))?.kafkaKey ?? "unparsed"
            result.append((key, bytes))
        }
        return result
    }
}
