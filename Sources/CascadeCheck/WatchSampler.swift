/// Which invalidated keys `cascade check --watch` checks: a fixed hash of `service/key`
/// compared with the rate, so a key is either always or never sampled. Every invalidation of
/// a sampled key is checked, which follows a key through all its changes (a key that is
/// stale after one change in ten is seen to be so), and two watchers with the same rate check
/// the same keys.
public struct WatchSampler: Sendable, Equatable {
    /// The share of keys checked, 0 through 1.
    public let rate: Double
    /// A key is sampled when its hash is below this; nil: every key.
    private let threshold: UInt64?

    public init(rate: Double) {
        let clamped = rate.isNaN ? 0 : min(1, max(0, rate))
        self.rate = clamped
        // 2^64 does not fit a UInt64: the whole range is "every key".
        threshold = clamped >= 1 ? nil : UInt64(clamped * 18_446_744_073_709_551_616.0)
    }

    public func samples(service: String, key: String) -> Bool {
        guard let threshold else { return true }
        return Self.hash(service: service, key: key) < threshold
    }

    /// FNV-1a over `service/key`, then a 64-bit finalizer: FNV alone leaves keys that differ
    /// only in their last characters (`p-17`, `p-18`) close together, the finalizer spreads them.
    static func hash(service: String, key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        for byte in service.utf8 { mix(byte) }
        mix(0x2F)
        for byte in key.utf8 { mix(byte) }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
