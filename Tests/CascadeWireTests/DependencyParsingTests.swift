import CascadeWire
import Testing

@Suite("DEPS arguments: what a dependency may be")
struct DependencyParsingTests {
    @Test(arguments: [
        ("Product#p-17@41", Dependency.entity(EntityRef(entity: "Product", id: "p-17"), version: 41)),
        ("Product#p-17", .entity(EntityRef(entity: "Product", id: "p-17"), version: nil)),
        ("user-service/user:u-3:profile", .key(CacheKeyRef(service: "user-service", key: "user:u-3:profile"))),
        ("order:9", .key(CacheKeyRef(service: "shop", key: "order:9"))),
        // A key may contain '/': the service is what comes before the first one.
        ("api-gateway/GET /products/1", .key(CacheKeyRef(service: "api-gateway", key: "GET /products/1"))),
        // Beyond ASCII, '#' is still looked for as a character.
        ("Prodükt#p-ü@3", .entity(EntityRef(entity: "Prodükt", id: "p-ü"), version: 3)),
        ("käse-service/k#ä", .entity(EntityRef(entity: "käse-service/k", id: "ä"), version: nil)),
        ("käse-service/kä", .key(CacheKeyRef(service: "käse-service", key: "kä"))),
    ])
    func valid(text: String, expected: Dependency) throws {
        #expect(try Dependency.parse(text, service: "shop") == expected)
    }

    @Test(arguments: ["", "Product#p@1@2", "Product#p@x", "#p-1", "Product#", "Product#p@"])
    func invalid(text: String) {
        #expect(throws: Dependency.ParseError.self) { try Dependency.parse(text, service: "shop") }
    }

    @Test func registrationsCarryTheirOwnerAndOldOnesStillDecode() throws {
        let owned = Registration(
            service: "s", key: "k", deps: ["E#1"], setAtMillis: 5, owner: RegistrationOwner(node: "n1", incarnation: 9))
        let decoded = try Registration.decode(owned.encoded())
        #expect(decoded.owner == RegistrationOwner(node: "n1", incarnation: 9))
        let old = try Registration.decode(Array(#"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false}"#.utf8))
        #expect(old.owner == nil && old.deps == ["E#1"])
    }

    @Test func watermarksRideOnBatchesAndDecodeWithThem() throws {
        let cause = InvalidationMessage.Cause(eventID: "e", entity: "E", id: "1", version: 2, atMillis: 3)
        let message = InvalidationMessage(kind: .invalidate, cause: cause, keys: [.init(key: "k", depth: 1)], tags: [], fences: [])
        let watermark = SourceWatermark(partition: 3, through: 1234, atMillis: 99)
        let (messages, read) = try InvalidationBatch.read(InvalidationBatch.encode([message], watermark: watermark))
        #expect(messages == [message] && read == watermark)
        let bare = try InvalidationBatch.read(InvalidationBatch.encode([], watermark: watermark))
        #expect(bare.invalidations.isEmpty && bare.watermark == watermark)
        #expect(try InvalidationBatch.read(message.encoded()).watermark == nil)
    }
}

@Suite("RFC 3339 timestamps of events, without a date formatter")
struct TimestampTests {
    @Test(arguments: [
        ("2026-11-25T16:00:00.123Z", Int64(1_795_622_400_123)),
        ("2026-11-25T16:00:00Z", 1_795_622_400_000),
        ("2026-11-25T17:30:00.5+01:30", 1_795_622_400_500),
        ("2026-11-25T16:00:00.1239999999999999999999999999999999999999Z", 1_795_622_400_123),
    ])
    func parses(text: String, millis: Int64) {
        #expect(Timestamps.parseMillis(text) == millis)
    }

    @Test(arguments: ["2026-11-25T16:00:00", "2026-13-25T16:00:00Z", "yesterday", "2026-11-25T16:00:00.Z", "2026-11-25T16:00:00.13299999999999999999999999999999999991"])
    func rejects(text: String) {
        #expect(Timestamps.parseMillis(text) == nil)
    }
}
