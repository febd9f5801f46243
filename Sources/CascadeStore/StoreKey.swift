/// A key as owned bytes, for the side tables (tags, leases, fences) that only keys with
/// dependencies or leases use; the main table stores keys inline in entries.
struct StoreKey: Hashable {
    var bytes: [UInt8]

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = Array(bytes) }
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}
