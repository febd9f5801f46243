@testable import CascadeGraph
import Testing

@Suite("Templates fit bytes as they fit text")
struct TemplateBytesTests {
    /// Random templates over a small alphabet (so literals recur inside values) against random
    /// keys: the byte walk fits exactly where `KeyTemplate.match` does, with the same values.
    @Test(arguments: 0..<20)
    func bytesAgreeWithTheTextMatch(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed))
        let alphabet = Array("ab:-")
        func text(_ length: Int) -> String {
            String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
        }
        var fitted = 0
        for _ in 0..<60 {
            var source = ""
            let parts = 1 + Int(random.next() % 4)
            for part in 0..<parts {
                // Parameters alternate with literals: two parameters in a row do not parse.
                source += part % 2 == Int(random.next() % 2) ? "{p\(part)}" : text(1 + Int(random.next() % 2))
            }
            guard let template = try? KeyTemplate(parsing: source) else { continue }
            let bytes = TemplateBytes(template)
            for _ in 0..<80 {
                var key = text(Int(random.next() % 8))
                let expected = template.match(key[...])
                var values: [String: String] = [:]
                var position = 0
                let fits = key.withUTF8 { utf8 in
                    bytes.walk(UnsafeRawBufferPointer(utf8)) { start, length in
                        values[template.parameters[position]] = String(decoding: utf8[start..<start + length], as: UTF8.self)
                        position += 1
                    }
                }
                #expect(fits == (expected != nil), "\(source) \(key)")
                if let expected, fits {
                    fitted += 1
                    #expect(values == expected, "\(source) \(key)")
                }
                #expect(key.withUTF8 { bytes.matches(UnsafeRawBufferPointer($0)) } == fits)
            }
        }
        #expect(fitted > 0)
    }

    /// A literal right at the parameter's start leaves it empty: no fit, even when the literal
    /// comes again later (which would give a non-empty value).
    @Test func anEmptyParameterDoesNotFit() throws {
        let template = try KeyTemplate(parsing: "{a}:x")
        var key = ":x:x"
        #expect(template.match(key[...]) == nil)
        #expect(!key.withUTF8 { TemplateBytes(template).matches(UnsafeRawBufferPointer($0)) })
    }
}
