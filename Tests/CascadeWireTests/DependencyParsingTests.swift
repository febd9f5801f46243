@testable import CascadeWire
import Foundation
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

    /// `parse` as it was before it read ASCII text from its bytes: by characters, throughout.
    static func parseByCharacters(_ text: String, service: String) throws(Dependency.ParseError) -> Dependency {
        guard !text.isEmpty else { throw .empty }
        if text.contains("#") {
            var body = text[...]
            var version: UInt64?
            if let at = text.lastIndex(of: "@") {
                guard let parsed = UInt64(text[text.index(after: at)...]) else { throw .badVersion(text) }
                version = parsed
                body = text[..<at]
            }
            guard let hash = body.firstIndex(of: "#"), hash != body.startIndex, body.index(after: hash) != body.endIndex,
                  !body[body.index(after: hash)...].utf8.contains(UInt8(ascii: "@"))
            else { throw .badEntity(text) }
            return .entity(EntityRef(entity: String(body[..<hash]), id: String(body[body.index(after: hash)...])), version: version)
        }
        if let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex {
            return .key(CacheKeyRef(service: String(text[..<slash]), key: String(text[text.index(after: slash)...])))
        }
        return .key(CacheKeyRef(service: service, key: text))
    }

    @Test("ASCII read from its bytes parses as reading characters did, errors too, on random texts of the separators", arguments: 0..<4)
    func bytesAgreeWithCharacters(seed: UInt64) {
        var random = RegistrationSpellingTests.Random(state: seed)
        let pieces = ["#", "@", "/", "a", "Product", "p-1", "7", "42", "+3", "-", "é", "\u{301}", " "]
        for _ in 0..<5_000 {
            let text = (0..<Int(random.next() % 7)).map { _ in random.pick(pieces) }.joined()
            let parsed = Result { () throws(Dependency.ParseError) in try Dependency.parse(text, service: "shop") }
            let expected = Result { () throws(Dependency.ParseError) in try Self.parseByCharacters(text, service: "shop") }
            #expect(parsed == expected, "\(text)")
            if case .success(.entity(let ref, nil)) = parsed { #expect(EntityRef(parsing: text) == ref, "\(text)") }
            if case .success(.key(let ref)) = parsed, ref.description == text { #expect(CacheKeyRef(parsing: text) == ref, "\(text)") }
        }
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

/// `Registration.decode` reads what nodes write without JSONDecoder; whatever it reads so, and
/// whatever it leaves to JSONDecoder, must come out exactly as JSONDecoder alone would have it.
@Suite("Registrations decode as JSONDecoder decodes them")
struct RegistrationDecodingTests {
    static let documents: [String] = [
        String(decoding: Registration(
            service: "order-service", key: "order:o-1:summary", deps: ["Product#p-1", "Order#o-1", "user-service/user:u-1:profile"],
            setAtMillis: 1_795_000_000_001, owner: RegistrationOwner(node: "9f3c1a27d04e5b61", incarnation: 7)).encoded(), as: UTF8.self),
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false}"#,
        #" { "service" : "s" , "key" : "k" , "deps" : [ ] , "set_at_ms" : 0 , "lease" : true , "node" : null , "inc" : null } "#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":-5,"lease":false,"node":"n","inc":18446744073709551615}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false,"node":"n","inc":18446744073709551616}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false,"extra":{"a":[1,2]}}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false,"key":"other"}"#,
        #"{"service":"s","key":"k\/x\n","deps":["E#1\u00e9"],"set_at_ms":5,"lease":false}"#,
        #"{"service":"sé","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":05,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":-0,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5.0,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5e2,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false,"node":"n","inc":-1}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5}"#,
        #"{"service":"s","key":"k","deps":["E#1",2],"set_at_ms":5,"lease":false}"#,
        #"{"service":"s","key":"k","deps":"E#1","set_at_ms":5,"lease":false}"#,
        #"{"service":null,"key":"k","deps":["E#1"],"set_at_ms":5,"lease":false}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":"false"}"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false} x"#,
        #"{"service":"s","key":"k","deps":["E#1"],"set_at_ms":5,"lease":false"#,
        #"["s"]"#,
        "",
    ]

    @Test(arguments: documents)
    func sameAsJSONDecoder(document: String) {
        let bytes = Array(document.utf8)
        let expected = try? JSONDecoder().decode(Registration.self, from: Data(bytes))
        #expect((try? Registration.decode(bytes)) == expected)
        // Whatever is read without JSONDecoder is read exactly as JSONDecoder reads it.
        if let plain = Registration.plain(bytes) { #expect(plain == expected) }
    }

    @Test("what nodes write, old registrations and null owners are read without JSONDecoder; escapes and odd numbers are not")
    func plainDocuments() {
        for index in [0, 1, 2, 3] { #expect(Registration.plain(Array(Self.documents[index].utf8)) != nil) }
        for index in [4, 5, 6, 7, 8, 9, 10, 11, 12, 13] { #expect(Registration.plain(Array(Self.documents[index].utf8)) == nil) }
    }
}

