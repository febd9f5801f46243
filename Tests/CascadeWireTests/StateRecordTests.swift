import CascadeWire
import Foundation
import Testing

@Suite("Records of the split state: edges and hops on the wire")
struct StateRecordTests {
    @Test("an edge record round-trips, versions kept; no dependencies is a tombstone")
    func edgeRecordRoundTrip() throws {
        let record = EdgeRecord(
            key: CacheKeyRef(service: "order-service", key: "order:o-1:summary"), partition: 3,
            dependencies: [
                .entity(EntityRef(entity: "Product", id: "p-1"), version: 7),
                .key(CacheKeyRef(service: "user-service", key: "user:u-1:profile")),
            ])
        let value = try #require(record.encodedValue())
        // Spelled as a registration spells them: the version is what the race check needs.
        #expect(String(decoding: value, as: UTF8.self).hasPrefix(#"{"deps":["Product#p-1@7","user-service"#))
        #expect(try EdgeRecord.decode(key: record.kafkaKey, value: value, partition: 3) == record)
        let tombstone = EdgeRecord(key: record.key, partition: 5, dependencies: [])
        #expect(tombstone.encodedValue() == nil)
        #expect(try EdgeRecord.decode(key: record.kafkaKey, value: nil, partition: 5) == tombstone)
    }

    @Test("a malformed edge record is an error that names what is wrong")
    func edgeRecordErrors() {
        #expect(throws: EdgeRecord.DecodeError.keyNotServiceSlashKey("no-slash")) {
            try EdgeRecord.decode(key: Array("no-slash".utf8), value: nil, partition: 0)
        }
        #expect(throws: EdgeRecord.DecodeError.badDependency("Product#p@x")) {
            try EdgeRecord.decode(key: Array("s/k".utf8), value: Array(#"{"deps":["Product#p@x"]}"#.utf8), partition: 0)
        }
        #expect(throws: (any Error).self) { try EdgeRecord.decode(key: Array("s/k".utf8), value: Array("{".utf8), partition: 0) }
    }

    /// What JSONDecoder reads, for comparison with the plain reader's fast path.
    private struct Reference: Decodable {
        var deps: [String]
        var set_at_ms: Int64?
    }

    @Test("edge record values read without JSONDecoder read as JSONDecoder reads them, or go to it", arguments: [
        #"{"deps":["Product#p-1@7","user-service/user:u-1:profile"],"set_at_ms":1796594717349}"#,
        #"{"deps":["Product#p-1"]}"#, #"{"deps":[],"set_at_ms":null}"#, #" { "set_at_ms" : -5 , "deps" : [ "a/b" ] } "#,
        #"{"deps":["a\/b"],"set_at_ms":1}"#, #"{"deps":["a/b"],"other":1}"#, #"{"deps":["a/b"],"deps":["c/d"]}"#,
        #"{"deps":["a/b"],"set_at_ms":1.5}"#, #"{"deps":["a/b"],"set_at_ms":01}"#, #"{"deps":[1]}"#, #"{"set_at_ms":1}"#,
        #"{"deps":["café/b"]}"#, #"{"deps":["a/b"]} x"#, #"["a/b"]"#,
    ])
    func plainEdgeValues(document: String) {
        let key = Array("s/k".utf8)
        let read = try? EdgeRecord.decode(key: key, value: Array(document.utf8), partition: 2)
        let reference = try? JSONDecoder().decode(Reference.self, from: Data(document.utf8))
        let expected = try? reference.map { reference in
            EdgeRecord(
                key: CacheKeyRef(service: "s", key: "k"), partition: 2,
                dependencies: try reference.deps.map { try Dependency.parse($0, service: "s") }, setAtMillis: reference.set_at_ms)
        }
        #expect(read == expected, "\(document)")
    }

    @Test("ledger records read without JSONDecoder read as JSONDecoder reads them, or go to it", arguments: [
        #"{"at_ms":1796594717349,"digest":18446744073709551615,"entity":"Product","event_id":"e-1","id":"p-1","origin":"product-service","version":7}"#,
        #" {"version":1,"id":"p","entity":"E","origin":"o","event_id":"","digest":0,"at_ms":-3} "#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p\u002d1","origin":"o","version":1}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p","origin":"o","version":1,"extra":true}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p","origin":"o","version":-1}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p","origin":"o","version":1.0}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p","origin":"o"}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":"e","id":"p","id":"q","origin":"o","version":1}"#,
        #"{"at_ms":1,"digest":0,"entity":"E","event_id":null,"id":"p","origin":"o","version":1}"#,
    ])
    func plainLedgerRecords(document: String) {
        let read = try? LedgerRecord.decode(Array(document.utf8))
        let reference = try? JSONDecoder().decode(LedgerRecord.self, from: Data(document.utf8))
        #expect(read == reference, "\(document)")
        if document.hasPrefix(#"{"at_ms":1796594717349"#) { #expect(read?.digest == .max && read?.version == 7) }
    }

    @Test("a hop round-trips with its fence, path and skipped hashes; its partition is the message's")
    func hopRoundTrip() throws {
        let hop = StateHop(
            root: "Product#p-1@7 cascade.events/2/41", name: "user-service/user:u-1:profile", partition: 5,
            fence: EntityRef(entity: "Product", id: "p-1"), fenceVersion: 7, depth: 2,
            path: ["Product#p-1", "product-service/product:p-1", "user-service/user:u-1:profile"],
            skip: [StableNameHash.of("product-service/product:p-1"), UInt64.max])
        let encoded = hop.encoded()
        #expect(!String(decoding: encoded, as: UTF8.self).contains("partition"))
        #expect(try StateHop.decode(encoded, partition: 5) == hop)
    }

    @Test("the stable hash is FNV-1a 64: fixed values, whatever the process")
    func stableHash() {
        #expect(StableNameHash.of("") == 0xcbf2_9ce4_8422_2325)
        #expect(StableNameHash.of("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(StableNameHash.of("foobar") == 0x8594_4171_f739_67e8)
    }
}
