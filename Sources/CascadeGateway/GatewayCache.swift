import CascadeCache
import CascadeStore
import CascadeWire
import Logging
import Metrics

/// What the gateway answers: status, headers, body, and how the cache took part.
public struct GatewayReply: Sendable {
    public enum Cache: String, Sendable {
        case hit = "HIT"
        case miss = "MISS"
        case stale = "STALE"
    }

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var cache: Cache?
}

/// The read-through cache in front of one upstream (RFC 9111 for a shared cache), on a cache
/// node's store: entries are node values, their `Surrogate-Key` / `Cache-Tag` dependencies are
/// registered on `cascade.deps` under the node's service, and the node's invalidation consumer
/// removes them when the bus says so, exactly as for a RESP client's `SET ... DEPS`.
///
/// Keys: `METHOD path?query` for a response without `Vary`; with one, the names are kept in a
/// record (`vary METHOD path?query` → generation and names) and the entry's key adds the
/// generation and the request's values of those headers. A successful unsafe request drops
/// the URL's record and plain entries: the variants of the old generation are unreachable
/// from then on and leave by expiry or eviction.
public final class GatewayCache: Sendable {
    public let node: CacheNode
    let upstream: any Upstream
    let configuration: GatewayConfiguration
    let coalescer = Coalescer<Fetched>()
    let metrics = GatewayMetrics()
    let logger: Logger

    public init(node: CacheNode, upstream: any Upstream, configuration: GatewayConfiguration, logger: Logger) {
        self.node = node
        self.upstream = upstream
        self.configuration = configuration
        self.logger = logger
    }

    /// An upstream answer as the cache keeps and serves it.
    struct Fetched: Sendable {
        /// Status, body and the headers anyone it is served to may see.
        var response: StoredResponse
        /// Headers for the client whose request fetched it only (`Set-Cookie`, ...).
        var personal: [(name: String, value: String)]
        /// Who else may be given it.
        var use: SharedUse
        var stored: Bool
    }

    /// An answer for one request: the fetch, and whether it was this request's own.
    struct Answer: Sendable {
        var fetched: Fetched
        var own: Bool
    }

    public func handle(_ request: GatewayRequest) async -> GatewayReply {
        switch request.method {
        case "GET", "HEAD": return await cached(request)
        default: return await passThrough(request)
        }
    }

    // MARK: reads

    private func cached(_ request: GatewayRequest) async -> GatewayReply {
        let requestControl = CacheControl(request.values("cache-control"))
        let pragmaNoCache = request.values("pragma").contains { $0.lowercased().contains("no-cache") }
        // A request with credentials is answered for that client only (RFC 9111 §3.5).
        if requestControl.noStore || !request.values("authorization").isEmpty {
            metrics.requests(.bypass)
            return await forward(request, cache: .miss)
        }
        let primary = request.method + " " + request.path
        let vary = varyRecord(primary)
        let key = Self.entryKey(primary, vary: vary, request: request)
        let now = WallClock.nowMillis()
        if !requestControl.noCache && !pragmaNoCache, let bytes = node.get(key), let entry = StoredResponse.decode(bytes) {
            if entry.isFresh(now: now) {
                metrics.requests(.hit)
                return reply(entry, .hit, to: request, now: now)
            }
            if entry.mayServeWhileRevalidating(now: now) {
                coalescer.refresh(key) { [self] in try await fetch(request, primary: primary, vary: vary) }
                metrics.requests(.stale)
                return reply(entry, .stale, to: request, now: now)
            }
            do {
                let answer = try await self.answer(request, primary: primary, vary: vary, key: key)
                if answer.fetched.response.status >= 500, entry.mayServeOnError(now: now) {
                    metrics.requests(.stale)
                    return reply(entry, .stale, to: request, now: now)
                }
                metrics.requests(.miss)
                return reply(answer, to: request)
            } catch {
                if entry.mayServeOnError(now: now) {
                    metrics.requests(.stale)
                    return reply(entry, .stale, to: request, now: now)
                }
                return badGateway(error)
            }
        }
        do {
            let answer = try await self.answer(request, primary: primary, vary: vary, key: key)
            metrics.requests(.miss)
            return reply(answer, to: request)
        } catch {
            return badGateway(error)
        }
    }

    /// The upstream's answer for a miss. Concurrent misses of one entry wait for one fetch,
    /// but a waiter takes its result only where `SharedUse` admits it: a response that may not
    /// be shared, or that varies on a header whose value differs, sends the waiter to the
    /// upstream for its own (or to the fetch of its own variant, once the Vary is known). A
    /// URL whose last response could not be shared is fetched without waiting on anyone for
    /// a while (hit-for-miss), so a burst of private requests does not queue behind a leader.
    private func answer(_ request: GatewayRequest, primary: String, vary: VaryRecord?, key: String) async throws -> Answer {
        var vary = vary
        var key = key
        if node.get(Self.passKey(primary)) == nil {
            for _ in 0..<2 {
                let (fetched, joined) = try await coalescer.value(for: key) { [self, vary] in
                    try await fetch(request, primary: primary, vary: vary)
                }
                if !joined { return Answer(fetched: fetched, own: true) }
                if fetched.use.admits(request) {
                    metrics.coalesced.increment()
                    return Answer(fetched: fetched, own: false)
                }
                guard fetched.use.shareable else { break }
                // Shareable, but this request's variant differs: its own entry's fetch.
                let next = varyRecord(primary)
                let nextKey = Self.entryKey(primary, vary: next, request: request)
                if nextKey == key { break }
                (vary, key) = (next, nextKey)
            }
            metrics.refusedWaiters.increment()
        }
        return Answer(fetched: try await fetch(request, primary: primary, vary: vary), own: true)
    }

    /// One upstream request for a read, stored when the response allows it. Conditional
    /// headers are not forwarded: the cache wants the whole response, and answers the
    /// client's conditions itself.
    private func fetch(_ request: GatewayRequest, primary: String, vary: VaryRecord?) async throws -> Fetched {
        var outbound = request
        outbound.headers.removeAll { ["if-none-match", "if-modified-since", "cache-control", "pragma"].contains($0.name.lowercased()) }
        let started = WallClock.nowMillis()
        let response: UpstreamResponse
        do {
            response = try await upstream.send(outbound)
            metrics.upstream(status: response.status, millis: WallClock.nowMillis() - started)
        } catch {
            metrics.upstreamErrors.increment()
            throw error
        }
        let received = WallClock.nowMillis()
        let control = CacheControl(response.values("cache-control"))
        let varyNames = Self.varyNames(response.values("vary"))
        let upstreamAge = response.values("age").first.flatMap { Int64(Substring($0).trimmingSpace) } ?? 0
        let lifetime = control.sharedFreshness ?? defaultLifetime(primary, status: response.status)
        var shared: [(name: String, value: String)] = []
        var personal: [(name: String, value: String)] = []
        for header in response.headers {
            let name = header.name.lowercased()
            if SharedUse.personalHeaders.contains(name) {
                personal.append(header)
            } else if name != "age" && name != "x-cache" {
                shared.append(header)
            }
        }
        let use = SharedUse(status: response.status, control: control, varyNames: varyNames, personal: !personal.isEmpty, request: request)
        let entry = StoredResponse(
            status: response.status, headers: shared,
            body: response.body, dateMillis: received - max(0, upstreamAge) * 1000,
            freshForMillis: (lifetime ?? 0) * 1000,
            staleWhileRevalidateMillis: (control.mustRevalidate ? 0 : control.staleWhileRevalidate ?? 0) * 1000,
            staleIfErrorMillis: (control.mustRevalidate ? 0 : control.staleIfError ?? 0) * 1000, vary: varyNames ?? [])
        if use.shareable {
            node.delete(Self.passKey(primary))
        } else {
            _ = node.set(Self.passKey(primary), [1], expiresAtMillis: received + Self.hitForMissMillis, dependencies: [])
        }
        let storable = use.shareable && lifetime != nil && entry.usefulUntilMillis > received
            && entry.body.count <= configuration.maxEntryBytes
        guard storable else {
            // What was kept for this request no longer stands for the URL.
            node.delete(Self.entryKey(primary, vary: vary, request: request))
            return Fetched(response: entry, personal: personal, use: use, stored: false)
        }
        // The key the response is stored under follows the response's own Vary.
        var record = vary
        if entry.vary != (vary?.names ?? []) {
            record = entry.vary.isEmpty ? nil : VaryRecord(generation: UInt64.random(in: 1...UInt64.max), names: entry.vary)
            if let record {
                _ = node.set(Self.varyKey(primary), record.encoded(), expiresAtMillis: entry.usefulUntilMillis + Self.varyRecordSlackMillis, dependencies: [])
            } else {
                node.delete(Self.varyKey(primary))
            }
        }
        let key = Self.entryKey(primary, vary: record, request: request)
        var dependencies: [Dependency] = []
        for text in Self.surrogateKeys(response) {
            do throws(Dependency.ParseError) {
                dependencies.append(try Dependency.parse(text, service: node.service))
            } catch {
                metrics.badSurrogateKeys.increment()
                logger.warning("ignoring a surrogate key that is not Entity#id[@version] or service/key", metadata: ["key": "\(text)", "error": "\(error)"])
            }
        }
        switch node.set(key, entry.encoded(), expiresAtMillis: entry.usefulUntilMillis, dependencies: dependencies) {
        case .stored: return Fetched(response: entry, personal: personal, use: use, stored: true)
        case .stale(let reason):
            // Computed from a version the bus has already replaced: served once, not kept.
            metrics.staleRefused.increment()
            logger.info("not caching a response computed from old data", metadata: ["key": "\(key)", "reason": "\(reason)"])
            return Fetched(response: entry, personal: personal, use: use, stored: false)
        default: return Fetched(response: entry, personal: personal, use: use, stored: false)
        }
    }

    /// A response that says nothing about freshness: its route family's TTL, else the
    /// default; only for statuses cacheable by default; nil (not stored) when that is 0.
    private func defaultLifetime(_ primary: String, status: Int) -> Int64? {
        guard Self.heuristicallyCacheable.contains(status) else { return nil }
        let seconds = configuration.routeTTLSeconds?(primary) ?? configuration.defaultTTLSeconds
        return seconds > 0 ? seconds : nil
    }

    // MARK: writes

    private func passThrough(_ request: GatewayRequest) async -> GatewayReply {
        metrics.requests(.pass)
        let reply = await forward(request, cache: nil)
        let unsafe = !["OPTIONS", "TRACE", "CONNECT"].contains(request.method)
        if unsafe, (200..<400).contains(reply.status) {
            // RFC 9111 §4.4: the target URI, and Location / Content-Location on the same origin.
            var paths = [request.path]
            for header in reply.headers where ["location", "content-location"].contains(header.name.lowercased()) {
                if header.value.hasPrefix("/") { paths.append(header.value) }
            }
            for path in paths { invalidate(path: path) }
        }
        return reply
    }

    /// Drops what is cached for a URL (both methods, every variant).
    public func invalidate(path: String) {
        for method in ["GET", "HEAD"] {
            let primary = method + " " + path
            node.delete(Self.varyKey(primary))
            node.delete(Self.passKey(primary))
            node.delete(primary)
        }
    }

    private func forward(_ request: GatewayRequest, cache: GatewayReply.Cache?) async -> GatewayReply {
        let started = WallClock.nowMillis()
        do {
            let response = try await upstream.send(request)
            metrics.upstream(status: response.status, millis: WallClock.nowMillis() - started)
            var headers = response.headers
            if let cache { headers.append(("X-Cache", cache.rawValue)) }
            return GatewayReply(status: response.status, headers: headers, body: response.body, cache: cache)
        } catch {
            metrics.upstreamErrors.increment()
            return badGateway(error)
        }
    }

    // MARK: replies

    /// A miss: the personal headers go to the client whose request fetched the response only.
    private func reply(_ answer: Answer, to request: GatewayRequest) -> GatewayReply {
        var reply = reply(answer.fetched.response, .miss, to: request, now: WallClock.nowMillis())
        if answer.own { reply.headers.append(contentsOf: answer.fetched.personal) }
        return reply
    }

    private func reply(_ entry: StoredResponse, _ cache: GatewayReply.Cache, to request: GatewayRequest, now: Int64) -> GatewayReply {
        var headers = entry.headers
        headers.append(("Age", String(entry.ageMillis(now: now) / 1000)))
        headers.append(("X-Cache", cache.rawValue))
        if entry.status == 200, let etag = entry.header("etag"), Self.matches(request.values("if-none-match"), etag: etag) {
            // 304 keeps the headers a cache would update with (RFC 9110 §15.4.5), no body.
            let kept: Set<String> = ["etag", "cache-control", "vary", "expires", "content-location", "date", "age", "x-cache", "surrogate-key", "cache-tag"]
            return GatewayReply(status: 304, headers: headers.filter { kept.contains($0.name.lowercased()) }, body: [], cache: cache)
        }
        return GatewayReply(status: entry.status, headers: headers, body: request.method == "HEAD" ? [] : entry.body, cache: cache)
    }

    /// The client reads a sentence; the log has the detail.
    private func badGateway(_ error: any Error) -> GatewayReply {
        metrics.requests(.error)
        logger.warning("upstream request failed", metadata: ["error": "\(error)"])
        let sentence = (error as? UpstreamError)?.description ?? "the upstream could not be reached or did not answer"
        return GatewayReply(
            status: 502, headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Cache", "MISS")],
            body: Array("502 Bad Gateway: \(sentence)\n".utf8), cache: .miss)
    }

    // MARK: keys and headers

    /// A response with `Vary` is kept this much longer than its entries, so the variants stay
    /// reachable while any of them may be served.
    static let varyRecordSlackMillis: Int64 = 60_000

    static func varyKey(_ primary: String) -> String { "vary " + primary }

    /// Marks a URL whose last response could not be shared, for `hitForMissMillis`.
    static func passKey(_ primary: String) -> String { "pass " + primary }

    /// How long misses of a URL whose response could not be shared go to the upstream without
    /// waiting for each other (Varnish's hit-for-miss keeps 120 s by default). A shareable
    /// response, or an unsafe request to the URL, ends it sooner.
    static let hitForMissMillis: Int64 = 120_000

    func varyRecord(_ primary: String) -> VaryRecord? {
        node.get(Self.varyKey(primary)).flatMap(VaryRecord.decode)
    }

    static func entryKey(_ primary: String, vary: VaryRecord?, request: GatewayRequest) -> String {
        guard let vary, !vary.names.isEmpty else { return primary }
        var key = primary + " |vary " + String(vary.generation, radix: 16)
        for name in vary.names {
            key += " " + name + "=" + request.values(name).joined(separator: ",")
        }
        return key
    }

    /// Lowercased, sorted names; nil for `Vary: *` (never stored).
    static func varyNames(_ values: [String]) -> [String]? {
        var names: Set<String> = []
        for value in values {
            for part in value.split(separator: ",") {
                let name = part.trimmingSpace.lowercased()
                if name == "*" { return nil }
                if !name.isEmpty { names.insert(name) }
            }
        }
        return names.sorted()
    }

    static func surrogateKeys(_ response: UpstreamResponse) -> [String] {
        let values = response.values("surrogate-key") + response.values("cache-tag")
        return values.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init) }
    }

    /// Weak comparison (RFC 9110 §13.1.2): `W/` aside, the opaque tags must be equal.
    static func matches(_ ifNoneMatch: [String], etag: String) -> Bool {
        func opaque(_ tag: Substring) -> Substring { tag.hasPrefix("W/") ? tag.dropFirst(2) : tag }
        let stored = opaque(Substring(etag).trimmingSpace)
        for value in ifNoneMatch {
            for candidate in value.split(separator: ",") {
                let tag = candidate.trimmingSpace
                if tag == "*" || opaque(tag) == stored { return true }
            }
        }
        return false
    }

    /// Statuses a cache may store at all, and those it may store on a heuristic (default) TTL
    /// (RFC 9110 §15.1).
    static let storableStatus: Set<Int> = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]
    static let heuristicallyCacheable: Set<Int> = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]
}

/// The names a URL's responses vary by, and a generation that changes when the URL is
/// invalidated by an unsafe request.
struct VaryRecord: Sendable, Equatable {
    var generation: UInt64
    var names: [String]

    func encoded() -> [UInt8] {
        Array((String(generation, radix: 16) + " " + names.joined(separator: ",")).utf8)
    }

    static func decode(_ bytes: [UInt8]) -> VaryRecord? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let space = text.firstIndex(of: " "), let generation = UInt64(text[..<space], radix: 16) else { return nil }
        let names = text[text.index(after: space)...].split(separator: ",").map(String.init)
        return VaryRecord(generation: generation, names: names)
    }
}

/// The gateway's instruments (swift-metrics; `/metrics` exports them).
struct GatewayMetrics: Sendable {
    enum Outcome: String { case hit, miss, stale, pass, bypass, error }

    private let hit = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "hit")])
    private let miss = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "miss")])
    private let stale = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "stale")])
    private let pass = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "pass")])
    private let bypass = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "bypass")])
    private let error = Counter(label: "cascade_gateway_requests_total", dimensions: [("cache", "error")])
    let coalesced = Counter(label: "cascade_gateway_coalesced_total")
    /// Requests that waited on another's fetch and could not use its response.
    let refusedWaiters = Counter(label: "cascade_gateway_coalescing_refused_total")
    let upstreamRequests = Counter(label: "cascade_gateway_upstream_requests_total")
    let upstreamErrors = Counter(label: "cascade_gateway_upstream_errors_total")
    let upstreamLatency = Timer(label: "cascade_gateway_upstream_seconds")
    let badSurrogateKeys = Counter(label: "cascade_gateway_bad_surrogate_keys_total")
    let staleRefused = Counter(label: "cascade_gateway_stale_responses_refused_total")

    func requests(_ outcome: Outcome) {
        switch outcome {
        case .hit: hit.increment()
        case .miss: miss.increment()
        case .stale: stale.increment()
        case .pass: pass.increment()
        case .bypass: bypass.increment()
        case .error: error.increment()
        }
    }

    func upstream(status: Int, millis: Int64) {
        upstreamRequests.increment()
        upstreamLatency.recordMilliseconds(millis)
    }
}
