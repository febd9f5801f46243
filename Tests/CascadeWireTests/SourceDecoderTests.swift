import CascadeWire
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func event(_ decoded: DecodedMessage) throws -> DomainEvent {
    guard case .event(let event) = decoded else { throw DecodeFailure(description: "expected an event, got \(decoded)") }
    return event
}

private struct DecodeFailure: Error, CustomStringConvertible { var description: String }

private func rejection(_ body: () throws(EventRejection) -> DecodedMessage) -> EventRejection? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Samples shaped as the Debezium documentation describes its PostgreSQL and MySQL
/// connectors' change events (key and value, bare and through the JSON converter).
@Suite struct DebeziumDecoderTests {
    static let postgresUpdate = """
        {"before":{"id":1004,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},
         "after":{"id":1004,"first_name":"Anne Marie","last_name":"Kretchmar","email":"annek@noanswer.org","vip":true,"tags":["a"]},
         "source":{"version":"2.7.3.Final","connector":"postgresql","name":"PostgreSQL_server","ts_ms":1559033904863,
                   "snapshot":"false","db":"postgres","sequence":"[\\"24023119\\",\\"24023128\\"]","schema":"public",
                   "table":"customers","txId":556,"lsn":24023128,"xmin":null},
         "op":"u","ts_ms":1465584025523,"transaction":null}
        """

    @Test func postgresUpdateTakesIdFromTheKeyAndVersionFromTheLSN() throws {
        let decoder = DebeziumEventDecoder(entity: "Customer")
        let decoded = try event(decoder.decode(SourceMessage(key: bytes(#"{"id":1004}"#), value: bytes(Self.postgresUpdate))))
        #expect(decoded.ref == EntityRef(entity: "Customer", id: "1004"))
        #expect(decoded.op == .update)
        #expect(decoded.version == 24_023_128)
        #expect(decoded.origin == "PostgreSQL_server")
        #expect(decoded.atMillis == 1_559_033_904_863)
        #expect(decoded.attrs == ["id": "1004", "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org", "vip": "true"])
    }

    static let mysqlCreateWrapped = """
        {"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},
           {"type":"string","optional":false,"field":"email"}],"optional":true,"name":"mysql-server-1.inventory.customers.Value","field":"before"},
           {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"email"}],
           "optional":true,"name":"mysql-server-1.inventory.customers.Value","field":"after"},
           {"type":"struct","fields":[{"type":"string","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"}],
           "optional":false,"name":"io.debezium.connector.mysql.Source","field":"source"},
           {"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"}],
           "optional":false,"name":"mysql-server-1.inventory.customers.Envelope"},
         "payload":{"op":"c","ts_ms":1465491411815,"before":null,
           "after":{"id":1004,"email":"annek@noanswer.org"},
           "source":{"version":"2.7.3.Final","connector":"mysql","name":"mysql-server-1","ts_ms":0,"snapshot":"false",
                     "db":"inventory","table":"customers","server_id":0,"gtid":null,"file":"mysql-bin.000003","pos":154,"row":0,
                     "thread":7,"query":"INSERT INTO customers (email) VALUES ('annek@noanswer.org')"}}}
        """
    static let mysqlKeyWrapped = """
        {"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,
          "name":"mysql-server-1.inventory.customers.Key"},"payload":{"id":1004}}
        """

    @Test func mysqlThroughTheSchemaConverterTakesVersionFromBinlogFileAndPosition() throws {
        let decoder = DebeziumEventDecoder(entity: "Customer")
        let decoded = try event(decoder.decode(SourceMessage(key: bytes(Self.mysqlKeyWrapped), value: bytes(Self.mysqlCreateWrapped))))
        #expect(decoded.ref == EntityRef(entity: "Customer", id: "1004"))
        #expect(decoded.op == .create)
        #expect(decoded.version == 3 << 32 | 154)
        #expect(decoded.origin == "mysql-server-1")
        // source.ts_ms is 0 in a snapshot-less MySQL sample: still the source's.
        #expect(decoded.attrs == ["id": "1004", "email": "annek@noanswer.org"])
        // A later position in a later binlog file is a higher version.
        let later = Self.mysqlCreateWrapped.replacingOccurrences(of: "mysql-bin.000003", with: "mysql-bin.000004")
            .replacingOccurrences(of: "\"pos\":154", with: "\"pos\":4")
        let next = try event(decoder.decode(SourceMessage(key: bytes(Self.mysqlKeyWrapped), value: bytes(later))))
        #expect(next.version > decoded.version)
    }

    @Test func deleteReadsBeforeAndTheTombstoneAfterItIsSkipped() throws {
        let delete = """
            {"before":{"id":1004,"email":"annek@noanswer.org"},"after":null,
             "source":{"connector":"postgresql","name":"pg","ts_ms":1559033904900,"lsn":46523128},"op":"d","ts_ms":1465581902461}
            """
        let decoder = DebeziumEventDecoder(entity: "Customer")
        let decoded = try event(decoder.decode(SourceMessage(key: bytes(#"{"id":1004}"#), value: bytes(delete))))
        #expect(decoded.op == .delete && decoded.version == 46_523_128 && decoded.attrs["email"] == "annek@noanswer.org")
        #expect(try decoder.decode(SourceMessage(key: bytes(#"{"id":1004}"#), value: nil)) == .skip(reason: "tombstone"))
        #expect(try decoder.decode(SourceMessage(key: nil, value: bytes(#"{"schema":null,"payload":null}"#))) == .skip(reason: "tombstone"))
    }

    @Test func snapshotReadIsAnUpdateAndTsMillisIsTheLastResort() throws {
        // SQL Server's change_lsn is a string, not a number: no position, so ts_ms.
        let read = """
            {"before":null,"after":{"sku":"A-1","price":12.5},"source":{"connector":"sqlserver","name":"erp","ts_ms":1700000000001,
             "change_lsn":"00000027:00000758:0005","commit_lsn":"00000027:00000758:0005","snapshot":"true"},"op":"r","ts_ms":1700000000009}
            """
        let decoder = DebeziumEventDecoder(entity: "Product", idField: "sku")
        let decoded = try event(decoder.decode(SourceMessage(key: bytes(#"{"sku":"A-1","region":"eu"}"#), value: bytes(read))))
        #expect(decoded.ref.id == "A-1" && decoded.op == .update && decoded.version == 1_700_000_000_001)
        #expect(decoded.attrs == ["sku": "A-1", "price": "12.5"])
    }

    @Test func malformedEnvelopesAreRejectedWithAReason() {
        let decoder = DebeziumEventDecoder(entity: "Customer")
        let key = bytes(#"{"id":1}"#)
        let cases: [(String, [UInt8]?, String)] = [
            ("{not json", key, "bad-json"),
            ("[1,2]", key, "not-object"),
            (#"{"after":{"id":1},"source":{"lsn":5}}"#, key, "missing-field"),
            (#"{"op":"x","after":{"id":1},"source":{"lsn":5}}"#, key, "bad-op"),
            (#"{"op":"c","after":null,"source":{"lsn":5}}"#, key, "missing-field"),
            (#"{"op":"c","after":[1],"source":{"lsn":5}}"#, key, "wrong-type"),
            (#"{"op":"c","after":{"id":1},"source":{}}"#, key, "no-version"),
            (#"{"op":"c","after":{"id":1},"source":{"lsn":5}}"#, nil, "missing-id"),
            (#"{"op":"c","after":{"id":1},"source":{"lsn":5}}"#, bytes(#"{"a":1,"b":2}"#), "ambiguous-id"),
            (#"{"op":"c","after":{"id":1},"source":{"lsn":5}}"#, bytes("p-1"), "bad-key"),
            (#"{"op":"c","after":{"id":1},"source":{"lsn":5}} x"#, key, "bad-json"),
        ]
        for (value, key, kind) in cases {
            let found = rejection { () throws(EventRejection) in try decoder.decode(SourceMessage(key: key, value: bytes(value))) }
            #expect(found?.kind == kind, "\(value) → \(String(describing: found))")
            #expect(found.map { !$0.detail.isEmpty } == true)
        }
    }
}

/// Samples shaped as the CloudEvents 1.0 specification and its Kafka protocol binding
/// describe them.
@Suite struct CloudEventsDecoderTests {
    let decoder = CloudEventsDecoder(entities: ["Product", "Order", "User"])

    @Test func structuredModeMapsTypeSubjectSequenceAndData() throws {
        let value = """
            {"specversion":"1.0","type":"com.shop.product.updated","source":"/shop/product-service","subject":"p-17",
             "id":"A234-1234-1234","time":"2026-11-25T16:00:00.123Z","datacontenttype":"application/json",
             "sequence":"42","data":{"category":"shoes","stock":3,"tags":["x"]}}
            """
        let message = SourceMessage(
            key: bytes("p-17"), value: bytes(value),
            headers: [.init("content-type", bytes("application/cloudevents+json; charset=UTF-8"))])
        let decoded = try event(decoder.decode(message))
        #expect(decoded.ref == EntityRef(entity: "Product", id: "p-17"))
        #expect(decoded.op == .update && decoded.version == 42 && decoded.origin == "/shop/product-service")
        #expect(decoded.eventID == "A234-1234-1234" && decoded.atMillis == 1_795_622_400_123)
        #expect(decoded.attrs == ["category": "shoes", "stock": "3"])
    }

    @Test func binaryModeReadsCeHeadersAndTheBodyAsData() throws {
        let headers: [SourceMessage.Header] = [
            .init("ce_specversion", bytes("1.0")), .init("ce_type", bytes("com.shop.order.created")),
            .init("ce_source", bytes("/shop/orders")), .init("ce_id", bytes("9f1c")), .init("ce_subject", bytes("o-9")),
            .init("ce_version", bytes("3")), .init("content-type", bytes("application/json")),
        ]
        let decoded = try event(decoder.decode(SourceMessage(key: nil, value: bytes(#"{"userId":"u-3"}"#), headers: headers)))
        #expect(decoded.ref == EntityRef(entity: "Order", id: "o-9") && decoded.op == .create && decoded.version == 3)
        #expect(decoded.attrs == ["userId": "u-3"])
        // Data that is not a JSON object is no attrs, not an error.
        let plain = headers.filter { $0.name != "content-type" } + [.init("content-type", bytes("text/plain"))]
        #expect(try event(decoder.decode(SourceMessage(key: nil, value: bytes("hello"), headers: plain))).attrs.isEmpty)
    }

    @Test func entityExtensionWinsAndDefaultEntityIsTheFallback() throws {
        let value = #"{"specversion":"1.0","type":"com.shop.stock.deleted","source":"s","id":"1","subject":"p-1","entity":"product","sequence":7}"#
        let decoded = try event(decoder.decode(SourceMessage(key: nil, value: bytes(value))))
        #expect(decoded.ref.entity == "Product" && decoded.op == .delete && decoded.version == 7)
        let fallback = CloudEventsDecoder(entities: ["Product"], defaultEntity: "Product")
        let other = #"{"specversion":"1.0","type":"com.shop.stock.updated","source":"s","id":"1","subject":"p-2","sequence":"8"}"#
        #expect(try event(fallback.decode(SourceMessage(key: nil, value: bytes(other)))).ref == EntityRef(entity: "Product", id: "p-2"))
    }

    @Test func malformedEventsAreRejectedWithAReason() {
        let good = #""specversion":"1.0","source":"s","id":"1""#
        let cases: [(String, String)] = [
            ("not json", "bad-json"),
            (#"{"type":"com.shop.product.updated","subject":"p","sequence":"1"}"#, "not-cloudevent"),
            ("{\(good),\"type\":\"com.shop.product.updated\",\"sequence\":\"1\"}", "missing-field"),
            ("{\(good),\"type\":\"com.shop.product.changed\",\"subject\":\"p\",\"sequence\":\"1\"}", "bad-op"),
            ("{\(good),\"type\":\"com.shop.widget.updated\",\"subject\":\"p\",\"sequence\":\"1\"}", "unknown-entity"),
            ("{\(good),\"type\":\"com.shop.product.updated\",\"subject\":\"p\"}", "no-version"),
            ("{\(good),\"type\":\"com.shop.product.updated\",\"subject\":\"p\",\"sequence\":\"abc\"}", "bad-version"),
            ("{\(good),\"type\":\"com.shop.product.updated\",\"subject\":\"p\",\"sequence\":\"1\",\"time\":\"yesterday\"}", "bad-time"),
            (#"{"specversion":"0.3","source":"s","id":"1","type":"com.shop.product.updated","subject":"p","sequence":"1"}"#, "bad-specversion"),
        ]
        for (value, kind) in cases {
            let found = rejection { () throws(EventRejection) in try decoder.decode(SourceMessage(key: nil, value: bytes(value))) }
            #expect(found?.kind == kind, "\(value) → \(String(describing: found))")
        }
        let tombstone = rejection { () throws(EventRejection) in try decoder.decode(SourceMessage(key: nil, value: nil)) }
        #expect(tombstone?.kind == "tombstone")
    }
}

@Suite struct SourceSpecTests {
    @Test func parsesTheCommandLineForms() throws {
        #expect(try SourceSpec.parse("debezium:shop.public.products=Product") == SourceSpec(kind: .debezium, topic: "shop.public.products", entity: "Product"))
        #expect(try SourceSpec.parse("debezium:db.users=User,id=user_id") == SourceSpec(kind: .debezium, topic: "db.users", entity: "User", idField: "user_id"))
        #expect(try SourceSpec.parse("cloudevents:events.shop") == SourceSpec(kind: .cloudevents, topic: "events.shop"))
        #expect(try SourceSpec.parse("json:legacy-events").kind == .json)
        for bad in ["debezium:t", "kafka:t", "t", "cloudevents:", "debezium:t=E,x=1", "cloudevents:t,id=a", "cloudevents:a b"] {
            #expect(throws: SourceSpecError.self, "\(bad)") { try SourceSpec.parse(bad) }
        }
    }
}
