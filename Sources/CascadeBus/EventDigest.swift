import CascadeWire

/// A digest of what an event says (op, origin, time, attributes; not its id), so a
/// redelivery of the same event is told apart from a different event with the same version.
enum EventDigest {
    static func of(_ event: DomainEvent) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash &*= 0x0000_0100_0000_01b3
        }
        mix(event.op.rawValue)
        mix(event.origin)
        mix(String(event.atMillis))
        // In name order, so the digest does not depend on the dictionary's; one attribute
        // (the usual event) needs no sorted copy.
        if event.attrs.count == 1, let (name, value) = event.attrs.first {
            mix(name)
            mix(value)
        } else {
            for name in event.attrs.keys.sorted() {
                mix(name)
                mix(event.attrs[name] ?? "")
            }
        }
        return hash
    }
}
