@testable import CascadeGateway
import CascadeGraph
import Testing

@Suite struct CacheControlTests {
    @Test func parsesTheDirectivesASharedCacheActsOn() {
        let control = CacheControl(["public, max-age=60, S-MAXAGE=\"120\"", "stale-while-revalidate=30,stale-if-error=600"])
        #expect(control.isPublic && control.maxAge == 60 && control.sharedMaxAge == 120 && control.sharedFreshness == 120)
        #expect(control.staleWhileRevalidate == 30 && control.staleIfError == 600 && !control.noStore)
        #expect(CacheControl(["no-store"]).noStore && CacheControl(["private, max-age=5"]).isPrivate)
        #expect(CacheControl(["max-age=-3"]).maxAge == 0 && CacheControl(["max-age=abc"]).maxAge == 0)
        #expect(CacheControl(["unknown-directive=1, no-cache"]).noCache)
    }
}

@Suite struct StoredResponseTests {
    @Test func roundTripsThroughItsBytes() throws {
        let entry = StoredResponse(
            status: 200, headers: [("Content-Type", "application/json"), ("ETag", "\"v1\""), ("X-Ünïcode", "✓")],
            body: Array("{\"a\":1}".utf8), dateMillis: 1_700_000_000_000, freshForMillis: 60_000,
            staleWhileRevalidateMillis: 5_000, staleIfErrorMillis: 600_000, vary: ["accept-language"])
        #expect(StoredResponse.decode(entry.encoded()) == entry)
        #expect(StoredResponse.decode(Array(entry.encoded().dropLast())) == nil)
        #expect(StoredResponse.decode([]) == nil)
        let now = entry.dateMillis
        #expect(entry.isFresh(now: now + 59_999) && !entry.isFresh(now: now + 60_000))
        #expect(entry.mayServeWhileRevalidating(now: now + 64_999) && !entry.mayServeWhileRevalidating(now: now + 65_000))
        #expect(entry.mayServeOnError(now: now + 659_999) && entry.usefulUntilMillis == now + 660_000)
        #expect(entry.header("etag") == "\"v1\"")
    }
}

@Suite struct GatewayKeyTests {
    @Test func varyNamesEntryKeysAndETags() {
        #expect(GatewayCache.varyNames(["Accept-Language, accept-encoding", "Accept-Language"]) == ["accept-encoding", "accept-language"])
        #expect(GatewayCache.varyNames(["*"]) == nil)
        let request = GatewayRequest(method: "GET", path: "/p?x=1", headers: [("Accept-Language", "de"), ("Accept-Encoding", "gzip")])
        let record = VaryRecord(generation: 255, names: ["accept-encoding", "accept-language"])
        #expect(GatewayCache.entryKey("GET /p?x=1", vary: record, request: request) == "GET /p?x=1 |vary ff accept-encoding=gzip accept-language=de")
        #expect(GatewayCache.entryKey("GET /p?x=1", vary: nil, request: request) == "GET /p?x=1")
        #expect(VaryRecord.decode(record.encoded()) == record)
        #expect(GatewayCache.matches(["\"a\", W/\"v1\""], etag: "\"v1\"") && GatewayCache.matches(["*"], etag: "\"x\""))
        #expect(!GatewayCache.matches(["\"v2\""], etag: "\"v1\""))
        let response = UpstreamResponse(status: 200, headers: [("Surrogate-Key", "Product#p-1 Order#o-2@3"), ("Cache-Tag", "user-service/user:u-1,x")], body: [])
        #expect(GatewayCache.surrogateKeys(response) == ["Product#p-1", "Order#o-2@3", "user-service/user:u-1", "x"])
    }

    @Test func routeFamiliesOfTheGraphGiveDefaultTTLs() throws {
        let result = GraphLoader.load(files: [(path: "graph/api-gateway.yaml", text: """
            service: api-gateway
            tier: standard
            owns:
              Product:
                attrs: []
            caches:
              product-json:
                key: "GET /products/{productId}"
                ttl: 5m
                depends_on:
                  - entity: Product
                    bind: {productId: id}

            """)])
        let graph = try #require(result.graph, "\(result.diagnostics)")
        var configuration = GatewayConfiguration(upstream: "http://127.0.0.1:1", defaultTTLSeconds: 7)
        #expect(configuration.useRouteFamilies(of: graph, service: "api-gateway") == 1)
        #expect(configuration.routeTTLSeconds?("GET /products/p-17") == 300)
        #expect(configuration.routeTTLSeconds?("GET /other") == nil)
    }
}
