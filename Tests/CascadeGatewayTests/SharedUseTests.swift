import CascadeCache
@testable import CascadeGateway
import Logging
import NIOConcurrencyHelpers
import Testing

/// An upstream in the test's process that answers per request, as a real application would:
/// a response it marks per-user names the credential it was computed for; one it declares
/// shareable (`public`, `max-age` or `s-maxage`, no `Set-Cookie`, no `Vary: Cookie`, no
/// Authorization) is the same for everyone. Requests can be held until a condition holds.
final class EchoUpstream: Upstream {
    struct Counts { var requests = 0, inFlight = 0, mostInFlight = 0 }

    private let counts = NIOLockedValueBox<[String: Counts]>([:])
    /// Called before each answer with the path and that path's request number (1-based).
    /// (A closure set once: one kept in a lock box gains a reabstraction thunk at every access.)
    let hold: @Sendable (String, Int) async -> Void
    let respond: @Sendable (GatewayRequest, _ credential: String) -> UpstreamResponse

    init(
        hold: @escaping @Sendable (String, Int) async -> Void = { _, _ in },
        respond: @escaping @Sendable (GatewayRequest, _ credential: String) -> UpstreamResponse
    ) {
        self.hold = hold
        self.respond = respond
    }

    func send(_ request: GatewayRequest) async throws -> UpstreamResponse {
        let number = counts.withLockedValue { table -> Int in
            table[request.path, default: Counts()].requests += 1
            table[request.path, default: Counts()].inFlight += 1
            let now = table[request.path, default: Counts()]
            table[request.path]?.mostInFlight = max(now.mostInFlight, now.inFlight)
            return now.requests
        }
        defer { counts.withLockedValue { $0[request.path]?.inFlight -= 1 } }
        await hold(request.path, number)
        let credential = request.values("authorization").first ?? request.values("cookie").first ?? "anonymous"
        return respond(request, credential)
    }

    func counts(_ path: String) -> Counts { counts.withLockedValue { $0[path] ?? Counts() } }
}

/// Waits for a condition by looking every millisecond, up to `seconds`.
func awaitCondition(seconds: Double = 2, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

func makeGateway(_ upstream: EchoUpstream, defaultTTLSeconds: Int64 = 30) -> GatewayCache {
    let node = CacheNode(configuration: NodeConfiguration(service: "api-gateway"), publisher: NoRegistrationPublisher())
    return GatewayCache(
        node: node, upstream: upstream, configuration: GatewayConfiguration(upstream: "http://127.0.0.1:1", defaultTTLSeconds: defaultTTLSeconds),
        logger: Logger(label: "test"))
}

@Suite struct SharedUseTests {
    func request(_ headers: [(String, String)]) -> GatewayRequest {
        GatewayRequest(method: "GET", path: "/p", headers: headers.map { (name: $0.0, value: $0.1) })
    }

    @Test func sharesOnlyWhatASharedCacheMayReuse() {
        let anonymous = request([])
        let cookie = request([("Cookie", "session=a")])
        func use(_ control: String, vary: [String]? = [], personal: Bool = false, _ from: GatewayRequest) -> SharedUse {
            SharedUse(status: 200, control: CacheControl([control]), varyNames: vary, personal: personal, request: from)
        }
        #expect(use("max-age=60", anonymous).admits(cookie))
        #expect(use("", anonymous).shareable, "a heuristic lifetime for an anonymous request")
        #expect(!use("", anonymous).admits(cookie), "...is not handed to a request with a cookie")
        #expect(!use("", cookie).shareable, "a cookie request's response without explicit freshness")
        #expect(use("public", cookie).shareable && use("s-maxage=5", cookie).shareable)
        for control in ["private", "no-store", "no-cache", "private, max-age=60", "public, no-store"] {
            #expect(!use(control, anonymous).shareable, "\(control)")
        }
        #expect(!use("max-age=60", personal: true, anonymous).shareable, "Set-Cookie")
        #expect(!use("max-age=60", vary: nil, anonymous).shareable, "Vary: *")
        #expect(!SharedUse(status: 500, control: CacheControl(["max-age=60"]), varyNames: [], personal: false, request: anonymous).shareable)
        let authorization = request([("Authorization", "Bearer a")])
        #expect(!use("max-age=60", authorization).shareable && use("public, max-age=60", authorization).shareable)
        #expect(use("must-revalidate, max-age=60", authorization).shareable && use("s-maxage=60", authorization).shareable)
        let varying = use("max-age=60", vary: ["cookie"], cookie)
        #expect(varying.admits(request([("Cookie", "session=a")])) && !varying.admits(request([("Cookie", "session=b")])))
        #expect(!varying.admits(anonymous))
    }
}

@Suite struct CoalescingMatrixTests {
    static let forms = ["", "max-age=60", "s-maxage=60", "public", "private", "no-store", "no-cache"]

    struct Case: Sendable {
        var form: String
        var setCookie: Bool
        var authorization: Bool
        var varyCookie: Bool

        static let all: [Case] = forms.flatMap { form in
            [false, true].flatMap { setCookie in
                [false, true].flatMap { authorization in
                    [false, true].map { Case(form: form, setCookie: setCookie, authorization: authorization, varyCookie: $0) }
                }
            }
        }

        var declaredShared: Bool {
            ["max-age=60", "s-maxage=60", "public"].contains(form) && !setCookie && !authorization && !varyCookie
        }

        func headers(credential: String) -> [(name: String, value: String)] {
            var headers: [(name: String, value: String)] = [("Content-Type", "text/plain")]
            if !form.isEmpty { headers.append(("Cache-Control", form)) }
            if varyCookie { headers.append(("Vary", "Cookie")) }
            if setCookie { headers.append(("Set-Cookie", "sid=\(credential)")) }
            return headers
        }

        func clientHeaders(_ client: Int) -> [(name: String, value: String)] {
            var headers: [(name: String, value: String)] = [("Cookie", "session=user\(client)")]
            if authorization { headers.append(("Authorization", "Bearer user\(client)")) }
            return headers
        }

        func expectedBody(_ client: Int) -> String {
            declaredShared ? "for everyone" : "for " + (authorization ? "Bearer user\(client)" : "session=user\(client)")
        }
    }

    static func upstream(hold: @escaping @Sendable (String, Int) async -> Void) -> EchoUpstream {
        EchoUpstream(hold: hold) { request, credential in
            let index = Int(request.path.split(separator: "/").last ?? "") ?? 0
            let form = Case.all[index]
            return UpstreamResponse(
                status: 200, headers: form.headers(credential: credential),
                body: Array((form.declaredShared ? "for everyone" : "for \(credential)").utf8))
        }
    }

    /// Eight clients with their own credentials request one path at once; the upstream holds
    /// the first request until the other seven wait on it, so every burst tests the join.
    @Test("every Cache-Control form x Set-Cookie x Authorization x Vary: Cookie, 8 clients, 100 times")
    func everyClientGetsItsOwnResponse() async throws {
        let unjoined = NIOLockedValueBox<[String]>([])
        let coalescer = NIOLockedValueBox<Coalescer<GatewayCache.Fetched>?>(nil)
        let upstream = Self.upstream { path, number in
            let index = Int(path.split(separator: "/").last ?? "") ?? 0
            guard number == 1, !Case.all[index].authorization, let coalescer = coalescer.withLockedValue({ $0 }) else { return }
            if !(await awaitCondition { coalescer.waiting(for: "GET " + path) == 7 }) {
                unjoined.withLockedValue { $0.append(path) }
            }
        }
        let gateway = makeGateway(upstream)
        coalescer.withLockedValue { $0 = gateway.coalescer }
        var wrong: [String] = []
        var cookieMisses: [String] = []
        for round in 0..<100 {
            let results = await withTaskGroup(of: (Int, Int, GatewayReply).self) { group in
                for (index, form) in Case.all.enumerated() {
                    for client in 0..<8 {
                        group.addTask {
                            let request = GatewayRequest(method: "GET", path: "/m/\(round)/\(index)", headers: form.clientHeaders(client))
                            return (index, client, await gateway.handle(request))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            for (index, client, reply) in results {
                let form = Case.all[index]
                let body = String(decoding: reply.body, as: UTF8.self)
                if body != form.expectedBody(client) { wrong.append("\(form) client \(client): \(body)") }
                let cookies = reply.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value)
                let credential = form.authorization ? "Bearer user\(client)" : "session=user\(client)"
                if cookies != (form.setCookie ? ["sid=\(credential)"] : []) { cookieMisses.append("\(form) client \(client): \(cookies)") }
            }
            for (index, form) in Case.all.enumerated() {
                let fetched = upstream.counts("/m/\(round)/\(index)").requests
                #expect(fetched == (form.declaredShared ? 1 : 8), "\(form): \(fetched) upstream requests")
            }
        }
        #expect(unjoined.withLockedValue { $0 }.isEmpty, "bursts whose waiters never all joined: \(unjoined.withLockedValue { $0.prefix(5) })")
        #expect(wrong.isEmpty, "\(wrong.count) responses reached the wrong client: \(wrong.prefix(5))")
        #expect(cookieMisses.isEmpty, "\(cookieMisses.count) Set-Cookie misdelivered: \(cookieMisses.prefix(5))")
    }

    /// After a response that could not be shared, the next burst on the URL goes to the
    /// upstream all at once instead of queueing behind a leader; a shareable answer ends that.
    @Test func hitForMissLetsPrivateBurstsThroughAtOnce() async throws {
        /// First burst: the first request waits for seven others to wait on it. Second burst:
        /// every request waits until all eight are at the upstream at once.
        enum Phase { case join, together, free }
        let phase = NIOLockedValueBox(Phase.join)
        let joined = NIOLockedValueBox(false)
        let coalescer = NIOLockedValueBox<Coalescer<GatewayCache.Fetched>?>(nil)
        let counts = NIOLockedValueBox<EchoUpstream?>(nil)
        let upstream = EchoUpstream(hold: { path, number in
            switch phase.withLockedValue({ $0 }) {
            case .join:
                guard number == 1, let coalescer = coalescer.withLockedValue({ $0 }) else { return }
                let all = await awaitCondition { coalescer.waiting(for: "GET " + path) == 7 }
                joined.withLockedValue { $0 = all }
            case .together:
                guard let upstream = counts.withLockedValue({ $0 }) else { return }
                _ = await awaitCondition { upstream.counts(path).mostInFlight == 8 }
            case .free: return
            }
        }) { request, credential in
            UpstreamResponse(status: 200, headers: [("Cache-Control", request.values("x-form").first ?? "private")], body: Array("for \(credential)".utf8))
        }
        counts.withLockedValue { $0 = upstream }
        let gateway = makeGateway(upstream)
        coalescer.withLockedValue { $0 = gateway.coalescer }
        func burst(_ form: String) async -> [String] {
            await withTaskGroup(of: String.self) { group in
                for client in 0..<8 {
                    group.addTask {
                        let reply = await gateway.handle(GatewayRequest(
                            method: "GET", path: "/private", headers: [("Cookie", "session=user\(client)"), ("X-Form", form)]))
                        return String(decoding: reply.body, as: UTF8.self)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        // First burst: seven wait on the leader, then each fetches its own.
        #expect(Set(await burst("private")).count == 8)
        #expect(joined.withLockedValue { $0 } && upstream.counts("/private").requests == 8)
        // Second burst: all eight in flight at the upstream together.
        phase.withLockedValue { $0 = .together }
        #expect(Set(await burst("private")).count == 8)
        #expect(upstream.counts("/private").mostInFlight == 8, "no request waited on a leader")
        #expect(upstream.counts("/private").requests == 16)
        phase.withLockedValue { $0 = .free }
        // The URL turns public: the first response ends hit-for-miss, and it is stored.
        _ = await gateway.handle(GatewayRequest(method: "GET", path: "/private", headers: [("X-Form", "public, max-age=60")]))
        let hit = await gateway.handle(GatewayRequest(method: "GET", path: "/private", headers: []))
        #expect(hit.cache == .hit && gateway.node.get(GatewayCache.passKey("GET /private")) == nil)
    }

    /// Coalescing still does its job where it may: 64 clients with their own cookies, one
    /// upstream request for a response declared shareable, the same answer for all.
    @Test func aPublicResponseIsFetchedOnceForSixtyFourClients() async {
        let coalescer = NIOLockedValueBox<Coalescer<GatewayCache.Fetched>?>(nil)
        let upstream = EchoUpstream(hold: { path, number in
            guard number == 1, let coalescer = coalescer.withLockedValue({ $0 }) else { return }
            _ = await awaitCondition { coalescer.waiting(for: "GET " + path) == 63 }
        }) { _, _ in UpstreamResponse(status: 200, headers: [("Cache-Control", "public, max-age=60")], body: Array("for everyone".utf8)) }
        let gateway = makeGateway(upstream)
        coalescer.withLockedValue { $0 = gateway.coalescer }
        let bodies = await withTaskGroup(of: String.self) { group in
            for client in 0..<64 {
                group.addTask {
                    let reply = await gateway.handle(GatewayRequest(method: "GET", path: "/popular", headers: [("Cookie", "session=user\(client)")]))
                    return String(decoding: reply.body, as: UTF8.self)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 64 && Set(bodies) == ["for everyone"])
        #expect(upstream.counts("/popular").requests == 1)
    }

    @Test func aHeuristicLifetimeIsNotGuessedForACookieRequest() async {
        let upstream = EchoUpstream { _, credential in UpstreamResponse(status: 200, headers: [], body: Array("for \(credential)".utf8)) }
        let gateway = makeGateway(upstream, defaultTTLSeconds: 30)
        let first = await gateway.handle(GatewayRequest(method: "GET", path: "/page", headers: [("Cookie", "session=a")]))
        let second = await gateway.handle(GatewayRequest(method: "GET", path: "/page", headers: [("Cookie", "session=b")]))
        #expect(String(decoding: first.body, as: UTF8.self) == "for session=a" && String(decoding: second.body, as: UTF8.self) == "for session=b")
        // Anonymous requests still get the default TTL.
        _ = await gateway.handle(GatewayRequest(method: "GET", path: "/open", headers: []))
        #expect(await gateway.handle(GatewayRequest(method: "GET", path: "/open", headers: [])).cache == .hit)
    }
}
