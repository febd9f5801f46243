/// A name's 64-bit FNV-1a hash: the same in every process and build, so a hop can say which keys
/// the shares before it named without spelling them. Two names sharing a hash would make a share
/// skip one of them; at 64 bits, among the few hundred names of one cascade, that is about one
/// chance in 10^14.
public enum StableNameHash {
    public static func of(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    public static func of(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { of($0) }
    }
}
