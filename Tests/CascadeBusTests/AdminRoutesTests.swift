import CascadeBus
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The admin API as an operator's HTTP client meets it, through Hummingbird's test client on
/// the routes the bus serves (no socket, no hand-written server).
@Suite("The bus's admin API: health, readiness, impact, ledger and the bearer token")
struct AdminRoutesTests {
    // @unchecked Sendable: the test sets it between requests, which read it one at a time.
    private final class Readiness: @unchecked Sendable {
        var ready = false
    }

    private func application(token: String? = nil, readiness: Readiness = Readiness()) throws -> (some ApplicationProtocol, PipelineFixture) {
        let fixture = try PipelineFixture()
        let source = AdminContextSource(
            processor: fixture.processor, metrics: BusMetrics(), token: token,
            readiness: { "1200 behind: cascade.deps 800/2000 read, 1200 to go on 2 of 6 partitions" }, isReady: { readiness.ready })
        return (Application(router: buildRouter(source)), fixture)
    }

    @Test func healthReadinessAndMetrics() async throws {
        let readiness = Readiness()
        let (app, _) = try application(readiness: readiness)
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                // It says how far behind it is.
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body)
                    == "rebuilding the index and the ledger: 1200 behind: cascade.deps 800/2000 read, 1200 to go on 2 of 6 partitions\n")
            }
            readiness.ready = true
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body) == "ready\n")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("# TYPE"))
            }
        }
    }

    @Test func impactNamesTheKeysAnInstanceReachesAndRejectsBadRefs() async throws {
        let (app, _) = try application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/impact?ref=Product%23p-1&attrs.category=c1", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(body?["root"] as? String == "Product#p-1")
                let keys = (body?["keys"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
                #expect(keys.contains("product:p-1"), "\(keys)")
            }
            try await client.execute(uri: "/impact?ref=nohash", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/impact?ref=Nope%231", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func ledgerAnswersWhatTheBusProcessed() async throws {
        let (app, fixture) = try application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/ledger/Product/p-9", method: .get) { response in
                #expect(response.status == .notFound)
            }
            _ = fixture.process(PipelineFixture.event("Product", "p-9", version: 4))
            try await client.execute(uri: "/ledger/Product/p-9", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("\"version\":4"))
            }
        }
    }

    @Test func aTokenGuardsAllButTheProbesAndItsSchemeIsCaseInsensitive() async throws {
        let (app, _) = try application(token: "s3cret")
        try await app.test(.router) { client in
            try await client.execute(uri: "/graph", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/graph", method: .get, headers: [.authorization: "bearer s3cret"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/graph", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                #expect(response.status == .unauthorized)
            }
            // Liveness and readiness probes carry no token.
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
