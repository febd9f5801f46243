/// Which partition of a topic a key belongs to, as Kafka's default partitioner decides it:
/// murmur2 of the key's bytes, sign bit cleared, modulo the partition count. The Java client
/// computes it so, and librdkafka with `partitioner=murmur2_random`.
///
/// The bus's state is owned by partition: the edges of a dependency `Entity#id` must lie in the
/// partition its events arrive on, so the bus needs the producers' own function, and Kafka's
/// default is the one every client can be set to.
public struct StatePartitioner: Sendable, Hashable {
    public let count: Int32

    public init(count: Int32) {
        precondition(count > 0, "a topic has at least one partition")
        self.count = count
    }

    public func partition(of key: UnsafeBufferPointer<UInt8>) -> Int32 {
        Int32(bitPattern: Self.murmur2(key) & 0x7fff_ffff) % count
    }

    public func partition(of key: String) -> Int32 {
        var key = key
        return key.withUTF8 { partition(of: $0) }
    }

    /// Kafka's murmur2 (seed 0x9747b28c), on 32-bit words read little-endian.
    static func murmur2(_ data: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let m: UInt32 = 0x5bd1_e995
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var index = 0
        while index + 4 <= length {
            var k = UInt32(data[index]) | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]) << 16 | UInt32(data[index + 3]) << 24
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
            index += 4
        }
        let tail = length - index
        if tail == 3 { h ^= UInt32(data[index + 2]) << 16 }
        if tail >= 2 { h ^= UInt32(data[index + 1]) << 8 }
        if tail >= 1 {
            h ^= UInt32(data[index])
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return h
    }
}

