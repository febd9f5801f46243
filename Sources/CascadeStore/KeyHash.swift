/// Seeded 64-bit hash of key bytes. Reads eight bytes at a time so short keys cost a few
/// multiplies; the per-process seed keeps chosen keys from forcing collisions.
enum KeyHash {
    static let seed: UInt64 = UInt64.random(in: .min ... .max)

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        var h = seed ^ (UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15)
        var offset = 0
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            h = mix(h ^ scramble(word))
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            h = mix(h ^ scramble(tail))
        }
        return finalize(h)
    }

    @inline(__always)
    private static func scramble(_ word: UInt64) -> UInt64 {
        let k = word &* 0x87C3_7B91_1142_53D5
        return ((k << 31) | (k >> 33)) &* 0x4CF5_AD43_2745_937F
    }

    @inline(__always)
    private static func mix(_ h: UInt64) -> UInt64 {
        ((h << 27) | (h >> 37)) &* 5 &+ 0x52DC_E729
    }

    @inline(__always)
    private static func finalize(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
