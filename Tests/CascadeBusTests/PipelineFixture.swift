import CascadeBus
import CascadeGraph
import CascadeTestSupport
import CascadeWire
import Foundation

/// The example graph with a fresh index and ledger, and helpers to feed events.
struct PipelineFixture {
    let processor: EventProcessor
    let topics = Topics()

    /// The example graph, or the graph in `directory`.
    /// `startMillis`: when the bus started, on the fixture's clock (events default to 1000).
    init(cycleConflictWindowMillis: Int64 = 1000, directory: String? = nil, startMillis: Int64 = 0, goneKeyGraceMillis: Int64 = 0) throws {
        let loaded = try GraphLoader.load(directory: directory ?? CascadeBinary.packageRoot.appendingPathComponent("graph").path)
        guard let graph = loaded.graph else { throw FixtureError.graph("\(loaded.diagnostics)") }
        processor = EventProcessor(
            graph: graph, index: InstanceIndex(graph: graph, goneKeyGraceMillis: goneKeyGraceMillis), ledger: Ledger(), topics: Topics(),
            cycleConflictWindowMillis: cycleConflictWindowMillis, startMillis: startMillis)
    }

    enum FixtureError: Error { case graph(String) }

    static func event(
        _ entity: String, _ id: String, version: UInt64, origin: String = "product-service", at: String? = nil,
        attrs: [String: String] = [:], op: String = "update"
    ) -> [UInt8] {
        var fields = ["\"entity\":\"\(entity)\"", "\"id\":\"\(id)\"", "\"op\":\"\(op)\"", "\"version\":\(version)", "\"origin\":\"\(origin)\""]
        if let at { fields.append("\"at\":\"\(at)\"") }
        if !attrs.isEmpty {
            fields.append("\"attrs\":{" + attrs.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
        }
        return Array(("{" + fields.joined(separator: ",") + "}").utf8)
    }

    /// Without a key, as kcat sends without -k; a key must be the event's `Entity#id`.
    func process(_ value: [UInt8]?, key: String? = nil, nowMillis: Int64 = 1000) -> ProcessingResult {
        processor.process(
            key: key.map { Array($0.utf8) }, value: value, source: SourcePosition(topic: "cascade.events", partition: 0, offset: 0),
            nowMillis: nowMillis)
    }

    /// Invalidation messages by service name.
    static func invalidations(_ result: ProcessingResult) throws -> [String: [InvalidationMessage]] {
        var byService: [String: [InvalidationMessage]] = [:]
        for message in result.messages where message.topic.hasPrefix("cascade.inval.") {
            let service = String(message.topic.dropFirst("cascade.inval.".count))
            byService[service, default: []].append(try InvalidationMessage.decode(message.value ?? []))
        }
        return byService
    }
}
