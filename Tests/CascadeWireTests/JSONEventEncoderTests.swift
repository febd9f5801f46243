import CascadeWire
import Foundation
import Testing

@Suite("Events written by hand read back as they were, and parse as the JSON JSONSerialization writes")
struct JSONEventEncoderTests {
    @Test func eventsRoundTripThroughTheDecoder() throws {
        let odd = ["p-1", "quote\"d", "back\\slash", "new\nline", "ünïcødé/✓", "ctl\u{01}"]
        for round in 0..<200 {
            var attrs: [String: String] = [:]
            for index in 0..<(round % 4) { attrs["a\(index)\(odd[(round + index) % odd.count])"] = odd[(round * 7 + index) % odd.count] }
            let event = DomainEvent(
                ref: EntityRef(entity: "Product", id: odd[round % odd.count]), op: round % 5 == 0 ? .delete : .update,
                version: UInt64(round) * 1_000_003, origin: odd[(round + 1) % odd.count],
                atMillis: round % 3 == 0 ? 0 : 1_795_622_400_000 + Int64(round), attrs: attrs, eventID: "e-\(round)")
            let bytes = JSONEventEncoder.encode(event)
            #expect(try JSONEventDecoder().decode(bytes) == event, "\(String(decoding: bytes, as: UTF8.self))")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
            #expect(object["entity"] as? String == "Product" && object["event_id"] as? String == event.eventID)
        }
    }
}
