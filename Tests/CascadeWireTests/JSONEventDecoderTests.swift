import CascadeWire
import Testing

/// `at` and `attrs` are read in place (the time from the message's bytes, the attributes
/// straight into the event's dictionary); what they decode to and how they are rejected is
/// what it was when both went through a dictionary of JSON values.
@Suite("The native event decoder's time and attributes")
struct JSONEventDecoderTests {
    static let head = #""entity":"Product","id":"p-1","op":"update","version":3,"origin":"o""#

    static func decode(_ fields: String) throws(EventRejection) -> DomainEvent {
        try JSONEventDecoder().decode(Array("{\(head)\(fields)}".utf8))
    }

    static func rejection(_ fields: String) -> EventRejection? {
        do throws(EventRejection) {
            _ = try decode(fields)
            return nil
        } catch {
            return error
        }
    }

    @Test("the time, plain or written with escapes, absent or null")
    func times() throws {
        #expect(try Self.decode(#","at":"2026-11-25T16:00:00.123Z""#).atMillis == 1_795_622_400_123)
        #expect(try Self.decode(#","at":"2026\u002d11-25T16:00:00.123Z""#).atMillis == 1_795_622_400_123)
        #expect(try Self.decode(#","at":"2026-11-25T16:00:00.123Z","at":null"#).atMillis == 0)
        #expect(try Self.decode("").atMillis == 0)
    }

    @Test("a time that is not one, or not a string, is rejected with its text", arguments: [
        (#","at":"yesterday""#, "bad-time", "field 'at' is not an RFC 3339 time: 'yesterday'"),
        (#","at":"y\"day""#, "bad-time", "field 'at' is not an RFC 3339 time: 'y\"day'"),
        (#","at":"""#, "bad-time", "field 'at' is not an RFC 3339 time: ''"),
        (#","at":5"#, "wrong-type", "field 'at' is not a string"),
    ])
    func badTimes(fields: String, kind: String, reason: String) {
        let rejection = Self.rejection(fields)
        #expect(rejection?.kind == kind)
        #expect(rejection?.detail == reason)
    }

    @Test("a control character in the time is bad JSON, found where it is, as in any string")
    func controlCharacterInTime() {
        let offset = 1 + Self.head.utf8.count + #","at":"2026"#.utf8.count
        let rejection = Self.rejection(",\"at\":\"2026\u{01}\"")
        #expect(rejection?.kind == "bad-json")
        #expect(rejection?.detail == "value is not valid JSON (control character in string at byte \(offset))")
    }

    @Test("attributes: strings and numbers, the last of a repeated name counts")
    func attributes() throws {
        #expect(try Self.decode(#","attrs":{"a":"x","n":4.5}"#).attrs == ["a": "x", "n": "4.5"])
        #expect(try Self.decode(#","attrs":{"a":[1],"a":"y"}"#).attrs == ["a": "y"])
        #expect(try Self.decode(#","attrs":{"a":"x"},"attrs":{"b":"z"}"#).attrs == ["b": "z"])
        #expect(try Self.decode(#","attrs":null"#).attrs.isEmpty)
        #expect(try Self.decode(#","attrs":{}"#).attrs.isEmpty)
    }

    @Test("attributes that are not strings or numbers, or not an object, are rejected", arguments: [
        (#","attrs":{"a":"x","a":{"b":1}}"#, "attrs.a is not a string or number"),
        (#","attrs":{"a":true}"#, "attrs.a is not a string or number"),
        (#","attrs":"x""#, "field 'attrs' is not an object"),
        (#","attrs":[]"#, "field 'attrs' is not an object"),
    ])
    func badAttributes(fields: String, reason: String) {
        let rejection = Self.rejection(fields)
        #expect(rejection?.kind == "wrong-type")
        #expect(rejection?.detail == reason)
    }

    @Test("an earlier field's fault is reported before the attributes'")
    func order() {
        #expect(Self.rejection(#","at":"yesterday","attrs":{"a":true}"#)?.kind == "bad-time")
    }
}
