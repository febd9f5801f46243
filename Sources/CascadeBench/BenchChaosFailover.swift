import CascadeClient
import CascadeKafka
import CascadeWire
import Foundation

/// Times a bus kill → the moment invalidations flow again on every partition of the events
/// topic: sentinel products placed so that each partition carries several, a catalog key for
/// each, an event for each right after the kill, and `CASCADE.AFTER` on every partition's last
/// event, which answers once the node has applied what the bus made of it.
struct ChaosFailoverProbe: Sendable {
    struct Sentinel: Sendable {
        var id: String
        var partition: Int32
    }

    let sentinels: [Sentinel]
    let partitions: Int

    /// A catalog key: catalog gets every Product event's tag, so no registration is involved.
    static func key(_ sentinel: Sentinel) -> String { "product:\(sentinel.id)" }

    /// Publishes version 1 of candidate products (p-flow-0, ...) until each of `partitions`
    /// holds `perPartition` of them; the delivery reports say where each one's events land.
    static func place(producer: KafkaProducer, topics: Topics, partitions: Int, perPartition: Int = 4) async throws -> ChaosFailoverProbe {
        var byPartition: [Int32: [String]] = [:]
        var next = 0
        while (0..<Int32(partitions)).contains(where: { byPartition[$0, default: []].count < perPartition }) {
            guard next < 100 * partitions * perPartition else {
                throw OperatorError("the sentinel products' events reach only partitions \(byPartition.keys.sorted()) of \(partitions)")
            }
            let batch = (next..<next + 16).map { "p-flow-\($0)" }
            next += 16
            let reports = try await withThrowingTaskGroup(of: (String, Int32).self) { group in
                for id in batch {
                    group.addTask { (id, try await Self.publish(id, version: 1, producer: producer, topics: topics).partition) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (id, partition) in reports where byPartition[partition, default: []].count < perPartition {
                byPartition[partition, default: []].append(id)
            }
        }
        let sentinels = byPartition.sorted { $0.key < $1.key }.flatMap { partition, ids in ids.map { Sentinel(id: $0, partition: partition) } }
        return ChaosFailoverProbe(sentinels: sentinels, partitions: partitions)
    }

    /// Sets every sentinel's key on the node at `version` (the ledger's: the node takes it) and
    /// checks they are all there.
    func arm(node address: String, version: UInt64) async throws {
        let client = try await NodeClient(address: address, timeout: 5, password: nil)
        let replies = try await client.pipeline(sentinels.map {
            encodeRESPCommand("SET", Self.key($0), String(version), "EX", "600", "DEPS", "Product#\($0.id)@\(version)")
        })
        if let refused = replies.first(where: { $0 != .simple("OK") }) {
            throw OperatorError("a sentinel's SET on \(address) answered \(refused)")
        }
        let present = try await client.command(encodeRESPCommand((["EXISTS"] + sentinels.map(Self.key)).map { Array($0.utf8) }))
        guard present == .integer(sentinels.count) else { throw OperatorError("\(present) of \(sentinels.count) sentinel keys set") }
    }

    /// Publishes `version` of every sentinel at once, then waits until the node has applied the
    /// last event of every partition and checks that every key is gone. Milliseconds from `since`.
    func measure(node address: String, version: UInt64, producer: KafkaProducer, topics: Topics, since: UInt64) async throws -> Double {
        let reports = try await withThrowingTaskGroup(of: DeliveryReport.self) { group in
            for sentinel in sentinels {
                group.addTask { try await Self.publish(sentinel.id, version: version, producer: producer, topics: topics) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var last: [Int32: Int64] = [:]
        for report in reports { last[report.partition] = max(last[report.partition] ?? -1, report.offset) }
        let waits = last.sorted { $0.key < $1.key }.map { encodeRESPCommand("CASCADE.AFTER", "\($0.key):\($0.value)", "120000") }
        let exists = encodeRESPCommand((["EXISTS"] + sentinels.map(Self.key)).map { Array($0.utf8) })
        // CASCADE.AFTER holds the connection until applied.
        let client = try await NodeClient(address: address, timeout: 125, password: nil)
        let replies = try await client.pipeline(waits + [exists])
        let at = chaosNow()
        if let failed = replies.dropLast().first(where: { $0 != .simple("OK") }) {
            throw OperatorError("CASCADE.AFTER on \(address) answered \(failed) after a bus kill")
        }
        guard replies.last == .integer(0) else {
            throw OperatorError("\(replies.last.map { "\($0)" } ?? "?") sentinel keys still on \(address) once their events were applied")
        }
        return Double(at &- since) / 1e6
    }

    private static func publish(_ id: String, version: UInt64, producer: KafkaProducer, topics: Topics) async throws -> DeliveryReport {
        let event = DomainEvent(
            ref: EntityRef(entity: "Product", id: id), op: .update, version: version, origin: "bench",
            atMillis: Int64(Date().timeIntervalSince1970 * 1000), eventID: UUID().uuidString.lowercased())
        return try await producer.send(topic: topics.events, key: event.kafkaKey, value: JSONEventEncoder.encode(event))
    }
}
