/// Writes events in the plain JSON form (`cascade publish`, tests, benchmarks), fields in
/// sorted order. Written by hand: benchmarks encode every event they publish, and
/// `JSONSerialization` took a sixth of the CPU of `bench e2e`, competing with what it measured.
public enum JSONEventEncoder {
    public static func encode(_ event: DomainEvent) -> [UInt8] {
        var out = WireJSONWriter(capacity: 160 + event.attrs.count * 32)
        out.byte(0x7B)
        if event.atMillis != 0 {
            out.raw("\"at\":")
            out.string(Timestamps.format(millis: event.atMillis))
            out.byte(0x2C)
        }
        if !event.attrs.isEmpty {
            out.raw("\"attrs\":{")
            for (index, name) in event.attrs.keys.sorted().enumerated() {
                if index > 0 { out.byte(0x2C) }
                out.string(name)
                out.byte(0x3A)
                out.string(event.attrs[name] ?? "")
            }
            out.raw("},")
        }
        out.raw("\"entity\":")
        out.string(event.ref.entity)
        out.raw(",\"event_id\":")
        out.string(event.eventID)
        out.raw(",\"id\":")
        out.string(event.ref.id)
        out.raw(",\"op\":")
        out.string(event.op.rawValue)
        out.raw(",\"origin\":")
        out.string(event.origin)
        out.raw(",\"version\":")
        out.integer(event.version)
        out.byte(0x7D)
        return out.bytes
    }
}
