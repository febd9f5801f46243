import CascadeCheck
import CascadeClient
import CascadeWire
import Foundation
import Testing

/// `cascade why`'s verdict from what the node and the bus say, one situation at a time.
@Suite("cascade why: the verdict and the JSON")
struct KeyExplanationTests {
    private func invalidation(depth: Int = 3) throws -> BusWhy.Invalidation {
        let hops = (1...depth).map { #"{"key":"s/k\#($0)","depth":\#($0),"reason":"registered","cycle":false}"# }.joined(separator: ",")
        return try decode(#"""
            {"cause":{"entity":"Product","id":"p-1","version":7,"event_id":"e-7","topic":"cascade.events","partition":2,"offset":41,
             "produced_ms":10000,"consumed_ms":10004,"kind":"invalidate"},
             "path":[\#(hops)],"depth":\#(depth),"sent_ms":10005,"acked_ms":10008}
            """#)
    }

    private func decode<T: Decodable>(_ json: String) throws -> T { try JSONDecoder().decode(T.self, from: Data(json.utf8)) }

    private func bus(deps: [String]? = ["Product#p-1"], invalidations: [BusWhy.Invalidation] = [], dead: [BusWhy.DeadLetter] = []) throws -> BusWhy {
        var why: BusWhy = try decode(#"{"key":"k3","service":"s","invalidations":[],"dead_letters":[]}"#)
        why.deps = deps
        why.invalidations = invalidations
        why.deadLetters = dead
        return why
    }

    private func explain(
        _ meta: KeyMeta, _ buses: [BusWhy], ledger: [String: UInt64] = [:], lag: Int64 = 0
    ) -> KeyExplanation {
        KeyExplanation(
            service: "s", key: "k3", meta: meta, buses: buses,
            ledger: ledger.mapValues { LedgerRecord(entity: "Product", id: "p-1", version: $0, origin: "o", atMillis: 0, eventID: "", digest: 0) },
            node: .init(address: "127.0.0.1:1", lag: lag))
    }

    private let cached = KeyMeta(key: Array("k3".utf8), exists: true, setAtMillis: 20_000, ttlMillis: -1, dependencies: [
        .init(dep: "Product#p-1@5", tag: "Product#p-1", version: 5),
    ])

    @Test func goneKeyNamesTheRootTheHopsAndTheTimeToTheNode() throws {
        let meta = KeyMeta(
            key: Array("k3".utf8), exists: false, setAtMillis: nil, ttlMillis: -2, dependencies: [],
            keyFence: .init(atMillis: 10_012, cause: "Product#p-1@7", earlier: [.init(atMillis: 9_000, cause: "Product#p-1@6")]))
        let explanation = explain(meta, [try bus(deps: nil, invalidations: [try invalidation()])])
        #expect(explanation.verdict == "invalidated by Product#p-1@7 through 3 hops, 12 ms after the event")
        #expect(explanation.invalidations.first?.times.appliedMillis == 10_012)
        #expect(explanation.fences.map(\.cause) == ["Product#p-1@7", "Product#p-1@6"])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(explanation)) as? [String: Any]
        for key in ["key", "service", "present", "deps", "invalidations", "verdict"] { #expect(json?[key] != nil, "\(key)") }
        let first = (json?["invalidations"] as? [[String: Any]])?.first
        for key in ["cause", "path", "depth", "times"] { #expect(first?[key] != nil, "\(key)") }
    }

    @Test func goneKeyTheBusForgot() throws {
        let meta = KeyMeta(key: Array("k3".utf8), exists: false, setAtMillis: nil, ttlMillis: -2, dependencies: [], keyFence: .init(atMillis: 5, cause: "Product#p-1@7"))
        #expect(explain(meta, [try bus()]).verdict.hasPrefix("not cached: invalidated on the node by Product#p-1@7"))
        let raced = KeyMeta(key: Array("k3".utf8), exists: false, setAtMillis: nil, ttlMillis: -2, dependencies: [], keyFence: .init(atMillis: 5, cause: "order-service/why:b"))
        #expect(explain(raced, [try bus()]).verdict.hasPrefix("not cached: dropped at"))
        #expect(explain(raced, [try bus()]).verdict.hasSuffix("by the bus's registration race check: its dependency order-service/why:b may have changed before the value was stored"))
        let never = KeyMeta(key: Array("k3".utf8), exists: false, setAtMillis: nil, ttlMillis: -2, dependencies: [])
        #expect(explain(never, [try bus()]).verdict.hasPrefix("not cached, and no invalidation of it is remembered"))
    }

    @Test func stillCachedBecauseTheNodeIsBehind() throws {
        var late = try invalidation()
        late.cause.consumedMillis = 25_000
        #expect(explain(cached, [try bus(invalidations: [late])], lag: 12).verdict
            == "still cached: the bus invalidated it by Product#p-1@7 through 3 hops at \(iso(25_000)) but the node has not applied it: the node is behind by 12 messages")
        #expect(explain(cached, [try bus()], ledger: ["Product#p-1": 7], lag: 3).verdict
            == "stale: cached from Product#p-1@5 but the bus's ledger has version 7; the node is behind by 3 messages")
    }

    @Test func stillCachedBecauseTheEventWasDeadLettered() throws {
        let letter: BusWhy.DeadLetter = try decode(
            #"{"key":"Product#p-1","reason":"wrong-type: version","topic":"cascade.events","partition":1,"offset":9,"at_ms":21000}"#)
        #expect(explain(cached, [try bus(dead: [letter])]).verdict
            == "still cached: the event for Product#p-1 is in the dead-letter topic (wrong-type: version), from cascade.events[1]@9")
    }

    @Test func nothingReachesIt() throws {
        let plain = KeyMeta(key: Array("k3".utf8), exists: true, setAtMillis: nil, ttlMillis: 1000, dependencies: [])
        #expect(explain(plain, [try bus(deps: nil)]).verdict.hasPrefix("no registration reaches it from any changed entity: it was stored without DEPS"))
        #expect(explain(cached, [try bus(deps: nil)]).verdict.hasPrefix("no registration reaches it from any changed entity: the bus has no registration"))
        #expect(explain(cached, [try bus()], ledger: ["Product#p-1": 5]).verdict == "no event has reached it since it was stored")
    }

    @Test func mergesTheInstancesNewestFirstAndParsesTheKey() throws {
        var older = try invalidation(depth: 1)
        older.cause.consumedMillis = 1
        older.cause.version = 6
        let explanation = explain(cached, [try bus(invalidations: [older]), try bus(deps: nil, invalidations: [try invalidation()])])
        #expect(explanation.invalidations.map(\.cause.version) == [7, 6])
        #expect(try KeyExplainer.parse("product-service/product:p-17/x") == ("product-service", "product:p-17/x"))
        for bad in ["nokey", "/k", "s/", ""] { #expect(throws: OperatorError.self) { try KeyExplainer.parse(bad) } }
    }

    private func iso(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}
