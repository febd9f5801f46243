@testable import CascadeWire
import Testing

@Suite("Registrations read as bytes spell what decoding them spells")
struct RegistrationSpellingTests {
    /// A small generator (SplitMix64), to keep this target free of the graph's.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick<T>(_ choices: [T]) -> T { choices[Int(next() % UInt64(choices.count))] }
        /// Text over an alphabet where every separator of a dependency recurs.
        mutating func text(_ maxLength: Int) -> String {
            String((0..<Int(next() % UInt64(maxLength + 1))).map { _ in pick(Array("aE#@/1+-0")) })
        }
    }

    static func registration(_ random: inout Random) -> Registration {
        let deps = (0..<Int(random.next() % 5)).map { _ in random.text(7) }
        let owner = random.next() % 4 == 0 ? nil : RegistrationOwner(node: random.pick(["n1", "catalog-0f3a9c5e-long-node-name"]), incarnation: random.next() % 1000)
        var registration = Registration(
            service: random.pick(["svc", "s/x", "catalog"]), key: random.pick(["k", "order:1:summary", "a/b", "x#y"]), deps: deps,
            setAtMillis: Int64(random.next() % 2_000_000_000_000), lease: random.next() % 2 == 0, owner: owner)
        if random.next() % 6 == 0 { registration.incarnation = nil }
        return registration
    }

    /// Variants of a document nodes write: other layouts of the same registration, and
    /// documents that are not plain (the reader must leave those to the decoder).
    static func variants(of bytes: [UInt8], _ random: inout Random) -> [[UInt8]] {
        let text = String(decoding: bytes, as: UTF8.self)
        return [
            bytes,
            Array(" \(text.replacingOccurrences(of: ",", with: " ,\n\t")) ".utf8),
            Array(text.replacingOccurrences(of: "\"key\"", with: "\"key\":\"dup\",\"key\"").utf8),
            Array(text.replacingOccurrences(of: "a", with: "\\u0061").utf8),
            Array(text.replacingOccurrences(of: "k", with: "ķ").utf8),
            Array(text.replacingOccurrences(of: "\"lease\":false", with: "\"lease\":0").utf8),
            Array(text.replacingOccurrences(of: "\"set_at_ms\":", with: "\"set_at_ms\":0").utf8),
            Array(text.replacingOccurrences(of: "}", with: ",\"extra\":1}").utf8),
            Array(text.replacingOccurrences(of: "\"deps\":[", with: "\"deps\":[1,").utf8),
            Array(text.dropLast().utf8),
            Array((text + "x").utf8),
        ]
    }

    @Test(arguments: 0..<10)
    func bytesSpellWhatTheDecodedRegistrationSpells(seed: Int) {
        var random = Random(state: UInt64(seed))
        var spelledAtAll = 0
        for _ in 0..<200 {
            let registration = Self.registration(&random)
            let written = registration.encoded()
            for document in Self.variants(of: written, &random) {
                var read = SpelledRegistrations()
                let spelled = Registration.spell(document, into: &read)
                guard let decoded = try? Registration.decode(document) else {
                    #expect(!spelled, "\(String(decoding: document, as: UTF8.self))")
                    continue
                }
                var expected = SpelledRegistrations()
                expected.append(decoded)
                if spelled {
                    spelledAtAll += 1
                    #expect(read == expected, "\(String(decoding: document, as: UTF8.self))")
                } else {
                    #expect(read == SpelledRegistrations(), "nothing appended when not plain")
                }
            }
            // What nodes write always takes the byte path.
            var read = SpelledRegistrations()
            #expect(Registration.spell(written, into: &read), "\(String(decoding: written, as: UTF8.self))")
        }
        #expect(spelledAtAll > 400)
    }

    /// Names and separators as the index reads them, one batch holding several items.
    @Test func aBatchSpellsEachNameWithItsSeparator() throws {
        var batch = SpelledRegistrations()
        let registration = Registration(
            service: "storefront", key: "order:1:summary", deps: ["Order#1@3", "catalog/product:9", "bare", "", "X#y@z"], setAtMillis: 5,
            owner: RegistrationOwner(node: "n", incarnation: 2))
        #expect(Registration.spell(registration.encoded(), into: &batch))
        batch.appendTombstone(CacheKeyRef(service: "catalog", key: "product:9"), owner: nil)
        #expect(batch.items.count == 2)
        let item = batch.items[0]
        #expect(batch.text(of: item.key) == "storefront/order:1:summary")
        #expect(batch.withHead(of: item.key) { String(decoding: $0, as: UTF8.self) } == "storefront")
        let names = batch.dependencies[item.dependencyRange].map { (batch.text(of: $0.name), $0.isEntity) }
        #expect(names.map(\.0) == ["Order#1", "catalog/product:9", "storefront/bare"])
        #expect(names.map(\.1) == [true, false, false])
        #expect(batch.text(of: try #require(item.node)) == "n" && item.incarnation == 2)
        #expect(batch.items[1].isTombstone && batch.items[1].node == nil)
        #expect(batch.text(of: batch.items[1].key) == "catalog/product:9")
    }
}
