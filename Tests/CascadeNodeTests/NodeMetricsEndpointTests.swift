import CascadeTestSupport
import Foundation
import Testing

@Suite("cascade node --metrics-port")
struct NodeMetricsEndpointTests {
    @Test("Prometheus /metrics reports hits, misses and keys after redis-cli traffic")
    func metricsFollowTraffic() async throws {
        let metricsPort = Int.random(in: 30_000...60_000)
        let node = try await RunningNode.start(["--metrics-port", String(metricsPort)])
        defer { node.process.signal(SIGKILL) }
        #expect(try await node.cli("SET", "a", "b") == "OK")
        #expect(try await node.cli("GET", "a") == "b")
        #expect(try await node.cli("GET", "missing") == "")
        let scraped = try await eventually {
            let body = try await runCommand("curl", ["-s", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
            return body.contains("cascade_node_hits 1.0") && body.contains("cascade_node_misses 1.0") && body.contains("cascade_node_keys 1.0")
        }
        #expect(scraped)
    }
}
