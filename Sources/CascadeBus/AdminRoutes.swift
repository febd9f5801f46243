import CascadeGraph
import CascadeWire
import Foundation
import Hummingbird
import Logging

/// What the admin API reads; the bus provides it, tests can build one without Kafka.
public struct AdminContextSource: Sendable {
    public var processor: EventProcessor
    public var metrics: BusMetrics
    public var isReady: @Sendable () -> Bool
    /// How far the rebuild is, while not ready (`BusService.readiness`).
    public var readiness: @Sendable () -> String
    public var token: String?
    public var nodes: NodeDirectory
    /// The bus instances and the partitions each owns (`/shards`); nil without Kafka.
    public var shards: (@Sendable () -> ShardsReport)?
    /// Partitioned state: the admin API (`http://host:port`) of the instance that holds an
    /// `Entity#id`'s ledger entry, nil when it is this one or none is known.
    public var holder: (@Sendable (_ ref: String) -> String?)?
    /// Asks another instance's admin API (`GET url`, with the token): status and body.
    public var fetch: (@Sendable (_ url: String, _ token: String?) async throws -> (status: Int, body: [UInt8]))?

    public init(
        processor: EventProcessor, metrics: BusMetrics, nodes: NodeDirectory = NodeDirectory(), token: String? = nil,
        shards: (@Sendable () -> ShardsReport)? = nil, readiness: @escaping @Sendable () -> String = { "" },
        isReady: @escaping @Sendable () -> Bool
    ) {
        self.processor = processor
        self.metrics = metrics
        self.nodes = nodes
        self.token = token
        self.shards = shards
        self.readiness = readiness
        self.isReady = isReady
    }

    /// The admin API's view of a running bus.
    public init(bus: BusService, token: String? = nil) {
        self.init(
            processor: bus.processor, metrics: bus.metrics, nodes: bus.nodes, token: token,
            shards: {
                let statistics = bus.processor.index.statistics
                return bus.ownership.report(
                    registrations: statistics.registeredKeys, indexBytes: statistics.approximateBytes,
                    warm: bus.processor.share == nil ? "all" : "owned and standby")
            }, readiness: { bus.readiness },
            isReady: { bus.isReady })
        if bus.processor.share != nil { holder = { bus.holderAdmin(of: $0) } }
    }
}

/// The admin routes: health, readiness, metrics, the graph, live impact, the ledger and the
/// live nodes.
public func buildRouter(_ source: AdminContextSource) -> Router<BasicRequestContext> {
    let router = Router()
    if let token = source.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
    let analysis = GraphAnalysis(source.processor.graph)
    let graphJSON = GraphExport.json(analysis)
    let graphDot = GraphExport.dot(analysis)
    router.get("/healthz") { _, _ in text("ok\n") }
    router.get("/readyz") { _, _ in
        if source.isReady() { return text("ready\n") }
        let progress = source.readiness()
        return text("rebuilding the index and the ledger" + (progress.isEmpty ? "" : ": " + progress) + "\n", status: .serviceUnavailable)
    }
    router.get("/metrics") { _, _ in
        var buffer: [UInt8] = []
        source.metrics.registry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
    router.get("/graph") { _, _ in json(graphJSON) }
    router.get("/graph.dot") { _, _ in text(graphDot, contentType: "text/vnd.graphviz") }
    router.get("/impact") { request, _ in await impact(request, source) }
    router.get("/why") { request, _ in
        let query = request.uri.queryParameters
        guard let name = query.get("key"), let slash = name.firstIndex(of: "/"), slash != name.startIndex,
              name.index(after: slash) != name.endIndex else {
            return text("key must be service/key (encode # as %23)\n", status: .badRequest)
        }
        var limit = 5
        if let given = query.get("limit") {
            guard let parsed = Int(given), (1...100).contains(parsed) else {
                return text("limit must be a whole number from 1 to 100\n", status: .badRequest)
            }
            limit = parsed
        }
        let key = CacheKeyRef(service: String(name[..<slash]), key: String(name[name.index(after: slash)...]))
        let refs = query.getAll("ref").map { String($0) }
        return json(GraphExport.encode(BusWhy(source.processor, key: key, limit: limit, refs: refs)))
    }
    router.get("/nodes") { _, _ in
        struct Listing: Encodable { var nodes: [NodeDirectory.Entry] }
        return json(GraphExport.encode(Listing(nodes: source.nodes.entries())))
    }
    router.get("/shards") { _, _ in
        guard let shards = source.shards else { return text("no partitions: this bus runs without Kafka\n", status: .notFound) }
        return json(GraphExport.encode(shards()))
    }
    router.get("/ledger/:entity/:id") { request, context in
        let ref = (context.parameters.get("entity") ?? "") + "#" + (context.parameters.get("id") ?? "")
        if let entry = source.processor.ledger.entry(ref) {
            return json(String(decoding: entry.record.encoded(), as: UTF8.self))
        }
        // Partitioned state: the instance holding the entity's partition answers (asked once:
        // `local` stops a second hand-on while the instances' views of ownership differ).
        if request.uri.queryParameters.get("local") == nil, let holder = source.holder?(ref), let fetch = source.fetch {
            do {
                let answer = try await fetch(holder + request.uri.path + "?local=1", source.token)
                return Response(
                    status: .init(code: answer.status), headers: [.contentType: answer.status == 200 ? "application/json" : "text/plain"],
                    body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
            } catch {
                return text("the instance holding \(ref) (\(holder)) did not answer: \(error)\n", status: .badGateway)
            }
        }
        return text("no version of \(ref) is known\n", status: .notFound)
    }
    return router
}

/// The admin HTTP server as a Service; `onListening` hears the bound address (port 0 picks one).
public func buildApplication(
    _ source: AdminContextSource, host: String, port: Int, logger: Logger,
    onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(source), configuration: .init(address: .hostname(host, port: port), serverName: "cascade-bus"),
        onServerRunning: { channel in await onListening(host, channel.localAddress?.port ?? port) },
        logger: logger)
}

/// `GET /impact?ref=Entity#id`: what a change to it invalidates now, by the live index; with
/// partitioned state, across every share (`SystemImpact`).
private func impact(_ request: Request, _ source: AdminContextSource) async -> Response {
    // Partitioned state: another instance asks for this share's part below a key (`SystemImpact`).
    if let name = request.uri.queryParameters.get("key"), let share = source.processor.share {
        guard let part = SystemImpact(source: source, share: share).part(ofKey: String(name)) else {
            return text("key must be service/key\n", status: .badRequest)
        }
        return json(GraphExport.encode(part))
    }
    guard let refText = request.uri.queryParameters.get("ref"), let ref = EntityRef(parsing: refText) else {
        return text("ref must be Entity#id (encode # as %23)\n", status: .badRequest)
    }
    guard source.processor.graph.entities[ref.entity] != nil else {
        return text("entity '\(ref.entity)' is not in the graph\n", status: .notFound)
    }
    var attrs: [String: String] = [:]
    for (name, value) in request.uri.queryParameters where name.hasPrefix("attrs.") {
        attrs[String(name.dropFirst(6))] = String(value)
    }
    if let share = source.processor.share {
        let impact = SystemImpact(source: source, share: share)
        let local = request.uri.queryParameters.get("local") != nil
        return json(GraphExport.encode(local ? impact.part(of: ref, attrs: attrs) : await impact.report(of: ref, attrs: attrs)))
    }
    let closure = source.processor.index.closure(of: ref, attrs: attrs)
    return json(GraphExport.encode(ImpactReport(closure)))
}

/// The live closure as `/impact` answers it.
struct ImpactReport: Codable {
    struct Key: Codable {
        var service: String
        var key: String
        var depth: Int
        var reason: String
        var path: [String]

        var name: String { service + "/" + key }
    }

    var root: String
    var keys: [Key]
    var byService: [String: Int]
    var unresolved: [String]
    /// Partitioned state, one share's part (`local`): keys whose dependents lie in partitions it
    /// does not hold (`SystemImpact`).
    var handOn: [String]?

    init(_ closure: InstanceClosure) {
        root = closure.root
        keys = closure.entries.indices.map { index in
            let entry = closure.entries[index]
            return Key(service: String(entry.service), key: String(entry.key), depth: entry.depth, reason: entry.reason.rawValue, path: closure.path(to: index))
        }
        byService = closure.byService.mapValues(\.count)
        unresolved = closure.unresolved
    }

    enum CodingKeys: String, CodingKey {
        case root, keys, byService = "by_service", unresolved
        case handOn = "hand_on"
    }
}

/// What the bus knows about one key (`GET /why`), from its index and its memory of cascades.
extension BusWhy {
    init(_ processor: EventProcessor, key: CacheKeyRef, limit: Int, refs: [String]) {
        let deps = processor.index.dependencies(of: key)
        let entities = Set((deps ?? []).filter { EntityRef(parsing: $0) != nil } + refs)
        self.init(
            key: key.key, service: key.service, deps: deps,
            invalidations: processor.cascades.invalidations(of: key.description, limit: limit),
            deadLetters: processor.cascades.deadLetters(keyedBy: entities),
            memory: Memory(cascades: processor.cascades.count, bytes: processor.cascades.bytes, maxBytes: processor.cascades.maxBytes))
    }
}

/// Requires `Authorization: Bearer <token>` (the scheme in any case, RFC 9110) on every path
/// but the health probes, which orchestrators call without credentials. The node's /metrics
/// uses it too, with its --requirepass.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    public init(token: String) {
        self.token = Array(token.utf8)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" || request.uri.path == "/readyz" { return try await next(request, context) }
        guard let header = request.headers[.authorization], Self.matches(header, token: token) else {
            return text("missing or wrong bearer token\n", status: .unauthorized)
        }
        return try await next(request, context)
    }

    static func matches(_ header: String, token: [UInt8]) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        // Every byte compared whatever differs first: the time says nothing about the token.
        var difference = given.count ^ token.count
        for index in 0..<max(given.count, token.count) {
            difference |= Int((index < given.count ? given[index] : 0) ^ (index < token.count ? token[index] : 0))
        }
        return difference == 0
    }
}

private func text(_ body: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
    Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
}

private func json(_ body: String) -> Response {
    text(body, contentType: "application/json")
}
