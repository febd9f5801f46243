import CascadeBus
import CascadeGraph
import CascadeTestSupport
import CascadeWire
import Hummingbird
import Logging

/// The bus's own admin API (its Hummingbird router) on a free port, over a ledger the test
/// sets: what `cascade check` reads, served by the code that serves it in production.
final class BusAdminServer: Sendable {
    private let ledger: Ledger
    private let running: Task<Void, any Error>
    let url: String

    static func start() async throws -> BusAdminServer {
        let loaded = try GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path)
        guard let graph = loaded.graph else { throw BusAdminError.graph("\(loaded.diagnostics)") }
        let ledger = Ledger()
        let processor = EventProcessor(graph: graph, index: InstanceIndex(graph: graph), ledger: ledger, topics: Topics())
        let source = AdminContextSource(processor: processor, metrics: BusMetrics(), isReady: { true })
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(source, host: "127.0.0.1", port: 0, logger: Logger(label: "test.bus-admin")) { _, port in
            listening.yield(port)
        }
        let running = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BusAdminError.notListening }
        return BusAdminServer(ledger: ledger, running: running, url: "http://127.0.0.1:\(port)")
    }

    private init(ledger: Ledger, running: Task<Void, any Error>, url: String) {
        self.ledger = ledger
        self.running = running
        self.url = url
    }

    enum BusAdminError: Error {
        case graph(String)
        case notListening
    }

    /// Sets the version the ledger holds for `Entity#id`, changed at `atMillis`.
    func setVersion(_ entity: String, _ id: String, _ version: UInt64, atMillis: Int64 = 1_000) {
        let record = LedgerRecord(
            entity: entity, id: id, version: version, origin: "test", atMillis: atMillis, eventID: "e-\(version)", digest: 7)
        ledger.merge(record)
    }

    /// Cancelling the service shuts the server down gracefully.
    func stop() { running.cancel() }
}
