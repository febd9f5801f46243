/// The hash every table of names uses (the index's interner, the bus's memories of
/// invalidated and circular keys): computed once per name from its bytes, then carried along,
/// so a key reached by a closure is never hashed again as a `String`.
///
/// Eight bytes at a time, each word multiplied in, then a final avalanche: the tables pick
/// slots from the low bits, which a plain multiplicative hash leaves weak. Seeded per process,
/// like Swift's `Hasher`, so that key names cannot be chosen to collide (nothing hashed is
/// stored or sent, so no other process needs the same values).
public enum NameHash {
    private static let seed = UInt64.random(in: .min ... .max)

    public static func of(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = seed ^ UInt64(bytes.count)
        guard let base = UnsafeRawPointer(bytes.baseAddress) else { return finish(hash) }
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            hash = (hash ^ word) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
            offset += 8
        }
        if offset < bytes.count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        return finish(hash)
    }

    public static func of(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { of($0) }
    }

    /// The avalanche of SplitMix64: every output bit depends on every input bit.
    private static func finish(_ value: UInt64) -> UInt64 {
        var hash = value
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }
}
