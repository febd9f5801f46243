import CascadeTestSupport
import Foundation
import Testing

/// `cascade dev --source ...`: Debezium and CloudEvents messages produced with kcat, the keys
/// they invalidate checked with redis-cli, the malformed ones found on the dead-letter topic.
@Suite("change sources end to end, with kcat and redis-cli", .serialized, .enabled(if: findExecutable("kcat") != nil && findExecutable("redis-cli") != nil))
struct SourcesEndToEndTests {
    static let debeziumTopic = "shop.public.products"
    static let cloudEventsTopic = "shop.cloudevents"

    @Test("Debezium and CloudEvents (both modes) invalidate; tombstones are skipped; malformed envelopes are dead letters")
    func sourcesInvalidate() async throws {
        let dev = try await DevSession.start([
            "--source", "debezium:\(Self.debeziumTopic)=Product,id=product_id", "--source", "cloudevents:\(Self.cloudEventsTopic)",
        ])
        defer { dev.kill() }
        for id in ["p-1", "p-2", "p-3", "p-4"] {
            #expect(try await dev.cli("product-service", "SET", "product:\(id)", "cached \(id)", "DEPS", "Product#\(id)@1") == "OK")
        }
        #expect(try await dev.cli("order-service", "SET", "order:o-5:summary", "cached", "DEPS", "Order#o-5@1") == "OK")

        // Debezium through the JSON converter with schemas, PostgreSQL positions.
        let key = #"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"product_id"}],"optional":false,"name":"shop.public.products.Key"},"payload":{"product_id":"p-1"}}"#
        let update = #"{"schema":{"type":"struct","fields":[],"optional":false,"name":"shop.public.products.Envelope"},"payload":{"before":null,"after":{"product_id":"p-1","category":"shoes","price":49.9},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"shop","ts_ms":1764086400000,"snapshot":"false","db":"shop","schema":"public","table":"products","txId":771,"lsn":33816576,"xmin":null},"op":"u","ts_ms":1764086400004}}"#
        try await produce(dev, Self.debeziumTopic, key: key, value: update)
        #expect(try await eventually(timeout: .seconds(30)) { try await dev.cli("product-service", "EXISTS", "product:p-1") == "0" })
        #expect(try await dev.cli("product-service", "GET", "product:p-2") == "cached p-2")

        // A delete (bare envelope) and the tombstone Debezium writes after it.
        let delete = #"{"before":{"product_id":"p-2","category":"hats"},"after":null,"source":{"connector":"postgresql","name":"shop","ts_ms":1764086400100,"lsn":33816600},"op":"d","ts_ms":1764086400105}"#
        try await produce(dev, Self.debeziumTopic, key: #"{"product_id":"p-2"}"#, value: delete)
        try await produceTombstone(dev, Self.debeziumTopic, key: #"{"product_id":"p-2"}"#)
        #expect(try await eventually(timeout: .seconds(30)) { try await dev.cli("product-service", "EXISTS", "product:p-2") == "0" })

        // CloudEvents, structured mode.
        let structured = #"{"specversion":"1.0","type":"com.shop.product.updated","source":"/shop/catalogue","id":"ce-1","subject":"p-3","time":"2026-11-25T16:00:00Z","sequence":"7","datacontenttype":"application/json","data":{"category":"boots"}}"#
        try await produce(dev, Self.cloudEventsTopic, key: "p-3", value: structured, headers: ["content-type=application/cloudevents+json"])
        #expect(try await eventually(timeout: .seconds(30)) { try await dev.cli("product-service", "EXISTS", "product:p-3") == "0" })

        // CloudEvents, binary mode: attributes in ce_ headers, the body is the data.
        try await produce(
            dev, Self.cloudEventsTopic, key: "o-5", value: #"{"userId":"u-1"}"#,
            headers: [
                "ce_specversion=1.0", "ce_type=com.shop.order.updated", "ce_source=/shop/orders", "ce_id=ce-2",
                "ce_subject=o-5", "ce_sequence=3", "content-type=application/json",
            ])
        #expect(try await eventually(timeout: .seconds(30)) { try await dev.cli("order-service", "EXISTS", "order:o-5:summary") == "0" })
        #expect(try await dev.cli("product-service", "GET", "product:p-4") == "cached p-4")

        // Malformed envelopes: each on the dead-letter topic with its reason.
        try await produce(dev, Self.debeziumTopic, key: #"{"product_id":"p-4"}"#, value: #"{"after":{"product_id":"p-4"}}"#)
        try await produce(dev, Self.debeziumTopic, key: #"{"product_id":"p-4"}"#, value: "not json")
        try await produce(dev, Self.cloudEventsTopic, key: "p-4", value: #"{"specversion":"1.0","type":"com.shop.product.updated","source":"s","id":"x","sequence":"1"}"#)
        try await produce(dev, Self.cloudEventsTopic, key: "p-4", value: #"{"specversion":"1.0","type":"com.shop.product.renamed","source":"s","id":"y","subject":"p-4","sequence":"1"}"#)
        var letters = ""
        let found = try await eventually(timeout: .seconds(30)) {
            letters = try await deadLetters(dev)
            return ["missing-field: field 'op' is missing", "bad-json", "missing-field: attribute 'subject' is missing", "bad-op"]
                .allSatisfy { letters.contains($0) }
        }
        #expect(found, "dead letters:\n\(letters)")
        #expect(!letters.contains("tombstone"), "the tombstone after a delete is skipped, not a dead letter")
        #expect(letters.contains("cascade-source-topic=\(Self.debeziumTopic)"))
        #expect(try await dev.cli("product-service", "GET", "product:p-4") == "cached p-4")
        #expect(try await dev.stop() == 0)
    }

    private func produce(_ dev: DevSession, _ topic: String, key: String, value: String, headers: [String] = []) async throws {
        // One message per call; the key and value are separated by a byte neither contains.
        let result = try await runCommand(
            "kcat", ["-b", dev.kafka, "-P", "-t", topic, "-K", "\t"] + headers.flatMap { ["-H", $0] }, stdin: key + "\t" + value + "\n")
        try result.requireSuccess()
    }

    private func produceTombstone(_ dev: DevSession, _ topic: String, key: String) async throws {
        let result = try await runCommand("kcat", ["-b", dev.kafka, "-P", "-t", topic, "-Z", "-K", "\t"], stdin: key + "\t\n")
        try result.requireSuccess()
    }

    /// Every dead letter so far: its reason, detail and source headers, then its value.
    private func deadLetters(_ dev: DevSession) async throws -> String {
        let result = try await runCommand(
            "kcat", ["-b", dev.kafka, "-C", "-t", "cascade.dlq", "-o", "beginning", "-e", "-q", "-f", "%h | %s\\n"])
        return result.stdout.replacingOccurrences(of: "cascade-reason=", with: "").replacingOccurrences(of: ",cascade-detail=", with: ": ")
    }
}
