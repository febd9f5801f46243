#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One stored key and value in a single malloc'd block, so a key costs one allocation plus its
/// table slot. Layout: keyCount u32, valueCount u32, lru u32, flags u32, [expireAt i64], key, value.
/// The expiry word exists only for keys with a TTL: plain keys stay 8 bytes smaller.
struct Entry {
    let base: UnsafeMutableRawPointer

    static let hasExpiry: UInt32 = 1
    /// The key has dependencies (tags) kept beside the table, and was registered on the bus.
    static let hasMeta: UInt32 = 2
    /// The expiry was chosen by the node (its family's adaptive TTL), not given by the client.
    static let adaptiveTTL: UInt32 = 4
    /// The high 16 bits of the flags hold the key's family number (0: none), set once.
    static let familyShift: UInt32 = 16
    static let lowFlags: UInt32 = 0xFFFF

    @inline(__always) init(_ base: UnsafeMutableRawPointer) { self.base = base }

    static func size(keyCount: Int, valueCount: Int, withExpiry: Bool) -> Int {
        16 + (withExpiry ? 8 : 0) + keyCount + valueCount
    }

    /// What the allocator really takes for a block (glibc: 8 bytes of header, 16-byte steps).
    static func footprint(ofSize size: Int) -> Int {
        max(32, (size + 8 + 15) & ~15)
    }

    static func allocate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64?, flags: UInt32, lru: UInt32) -> Entry {
        let size = size(keyCount: key.count, valueCount: value.count, withExpiry: expireAt != nil)
        guard let base = malloc(size) else { fatalError("out of memory allocating a cache entry") }
        base.storeBytes(of: UInt32(truncatingIfNeeded: key.count), as: UInt32.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: value.count), toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: lru, toByteOffset: 8, as: UInt32.self)
        var allFlags = flags & ~hasExpiry
        if let expireAt {
            allFlags |= hasExpiry
            base.storeBytes(of: expireAt, toByteOffset: 16, as: Int64.self)
        }
        base.storeBytes(of: allFlags, toByteOffset: 12, as: UInt32.self)
        let entry = Entry(base)
        if let source = key.baseAddress, key.count > 0 {
            (base + entry.keyOffset).copyMemory(from: source, byteCount: key.count)
        }
        if let source = value.baseAddress, value.count > 0 {
            (base + entry.keyOffset + key.count).copyMemory(from: source, byteCount: value.count)
        }
        return entry
    }

    func deallocate() { free(base) }

    @inline(__always) var keyCount: Int { Int(base.load(as: UInt32.self)) }
    @inline(__always) var valueCount: Int { Int(base.load(fromByteOffset: 4, as: UInt32.self)) }

    var lru: UInt32 {
        @inline(__always) get { base.load(fromByteOffset: 8, as: UInt32.self) }
        nonmutating set { base.storeBytes(of: newValue, toByteOffset: 8, as: UInt32.self) }
    }

    var flags: UInt32 {
        @inline(__always) get { base.load(fromByteOffset: 12, as: UInt32.self) }
        nonmutating set { base.storeBytes(of: newValue, toByteOffset: 12, as: UInt32.self) }
    }

    @inline(__always) var hasMeta: Bool { flags & Entry.hasMeta != 0 }
    @inline(__always) var family: UInt16 { UInt16(truncatingIfNeeded: flags >> Entry.familyShift) }

    @inline(__always) static func familyBits(_ family: UInt16) -> UInt32 { UInt32(family) << familyShift }
    @inline(__always) private var keyOffset: Int { flags & Entry.hasExpiry != 0 ? 24 : 16 }

    @inline(__always) var expireAt: Int64? {
        flags & Entry.hasExpiry != 0 ? base.load(fromByteOffset: 16, as: Int64.self) : nil
    }

    /// Changes the expiry in place; only valid when the entry was allocated with one.
    func setExpireAt(_ value: Int64) {
        base.storeBytes(of: value, toByteOffset: 16, as: Int64.self)
    }

    @inline(__always) func isExpired(now: Int64) -> Bool {
        guard flags & Entry.hasExpiry != 0 else { return false }
        return base.load(fromByteOffset: 16, as: Int64.self) <= now
    }

    @inline(__always) var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + keyOffset, count: keyCount)
    }

    @inline(__always) var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + keyOffset + keyCount, count: valueCount)
    }

    /// Writable value bytes, for overwriting a value of the same length in place.
    @inline(__always) var mutableValue: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + keyOffset + keyCount, count: valueCount)
    }

    var size: Int { Entry.size(keyCount: keyCount, valueCount: valueCount, withExpiry: flags & Entry.hasExpiry != 0) }
    var footprint: Int { Entry.footprint(ofSize: size) }

    @inline(__always) func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        guard keyCount == other.count else { return false }
        guard let otherBase = other.baseAddress, other.count > 0 else { return true }
        return memcmp(base + keyOffset, otherBase, other.count) == 0
    }
}
