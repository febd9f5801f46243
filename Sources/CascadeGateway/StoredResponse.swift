/// A cached response as the gateway keeps it in the node's store: status, the headers to
/// replay, the body, and the times that decide whether it is fresh, may be served stale
/// while revalidating, or may stand in for an upstream error.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// When the gateway received it (ms since 1970), less the upstream's own `Age`.
    public var dateMillis: Int64
    /// Freshness lifetime in ms.
    public var freshForMillis: Int64
    public var staleWhileRevalidateMillis: Int64
    public var staleIfErrorMillis: Int64
    /// The `Vary` header names (lowercased, sorted) this entry was stored under.
    public var vary: [String]

    public init(
        status: Int, headers: [(name: String, value: String)], body: [UInt8], dateMillis: Int64, freshForMillis: Int64,
        staleWhileRevalidateMillis: Int64, staleIfErrorMillis: Int64, vary: [String]
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.dateMillis = dateMillis
        self.freshForMillis = freshForMillis
        self.staleWhileRevalidateMillis = staleWhileRevalidateMillis
        self.staleIfErrorMillis = staleIfErrorMillis
        self.vary = vary
    }

    public static func == (lhs: StoredResponse, rhs: StoredResponse) -> Bool {
        lhs.status == rhs.status && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 }) && lhs.body == rhs.body
            && lhs.dateMillis == rhs.dateMillis && lhs.freshForMillis == rhs.freshForMillis
            && lhs.staleWhileRevalidateMillis == rhs.staleWhileRevalidateMillis && lhs.staleIfErrorMillis == rhs.staleIfErrorMillis
            && lhs.vary == rhs.vary
    }

    public func ageMillis(now: Int64) -> Int64 { max(0, now - dateMillis) }
    public func isFresh(now: Int64) -> Bool { ageMillis(now: now) < freshForMillis }
    public func mayServeWhileRevalidating(now: Int64) -> Bool { ageMillis(now: now) < freshForMillis + staleWhileRevalidateMillis }
    public func mayServeOnError(now: Int64) -> Bool { ageMillis(now: now) < freshForMillis + staleIfErrorMillis }
    /// Past this the entry is no use at all: the store may drop it.
    public var usefulUntilMillis: Int64 { dateMillis + freshForMillis + max(staleWhileRevalidateMillis, staleIfErrorMillis) }

    public func header(_ name: String) -> String? {
        headers.first { HeaderName.matches($0.name, lowercased: name) }?.value
    }

    // MARK: bytes

    /// Length-prefixed fields, little-endian: no JSON on the hit path.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 64 + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 8 })
        out.append(1)
        put(UInt64(status), &out)
        put(UInt64(bitPattern: dateMillis), &out)
        put(UInt64(bitPattern: freshForMillis), &out)
        put(UInt64(bitPattern: staleWhileRevalidateMillis), &out)
        put(UInt64(bitPattern: staleIfErrorMillis), &out)
        put(UInt64(vary.count), &out)
        for name in vary { put(name, &out) }
        put(UInt64(headers.count), &out)
        for header in headers {
            put(header.name, &out)
            put(header.value, &out)
        }
        put(UInt64(body.count), &out)
        out.append(contentsOf: body)
        return out
    }

    public static func decode(_ bytes: [UInt8]) -> StoredResponse? {
        var reader = Reader(bytes: bytes)
        guard reader.byte() == 1, let status = reader.number(), let date = reader.number(), let fresh = reader.number(),
              let swr = reader.number(), let sie = reader.number(), let varyCount = reader.number(), varyCount < 1024
        else { return nil }
        var vary: [String] = []
        for _ in 0..<varyCount {
            guard let name = reader.string() else { return nil }
            vary.append(name)
        }
        guard let headerCount = reader.number(), headerCount < 10_000 else { return nil }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(Int(headerCount))
        for _ in 0..<headerCount {
            guard let name = reader.string(), let value = reader.string() else { return nil }
            headers.append((name, value))
        }
        guard let body = reader.blob() else { return nil }
        return StoredResponse(
            status: Int(status), headers: headers, body: body, dateMillis: Int64(bitPattern: date),
            freshForMillis: Int64(bitPattern: fresh), staleWhileRevalidateMillis: Int64(bitPattern: swr),
            staleIfErrorMillis: Int64(bitPattern: sie), vary: vary)
    }

    private func put(_ value: UInt64, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private func put(_ text: String, _ out: inout [UInt8]) {
        put(UInt64(text.utf8.count), &out)
        out.append(contentsOf: text.utf8)
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func byte() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func number() -> UInt64? {
            guard index + 8 <= bytes.count else { return nil }
            var value: UInt64 = 0
            for offset in 0..<8 { value |= UInt64(bytes[index + offset]) << (8 * offset) }
            index += 8
            return value
        }

        mutating func blob() -> [UInt8]? {
            guard let count = number(), count <= UInt64(bytes.count - index) else { return nil }
            defer { index += Int(count) }
            return Array(bytes[index..<(index + Int(count))])
        }

        mutating func string() -> String? {
            blob().map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
