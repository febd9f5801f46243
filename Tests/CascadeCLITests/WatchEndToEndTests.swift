import CascadeTestSupport
import Foundation
import Testing

/// `cascade check --watch` as an operator runs it: beside a real `cascade dev`, read with curl,
/// its log read as a person would, the nodes driven with redis-cli.
@Suite("cascade check --watch end to end", .enabled(if: findExecutable("redis-cli") != nil && findExecutable("curl") != nil))
struct WatchEndToEndTests {
    /// One sample of a metric, with its labels as written (`{service="x"}`), or nil.
    static func sample(_ metrics: String, _ name: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func metrics(_ url: String) async throws -> String {
        try await runCommand("curl", ["-s", "--max-time", "5", url + "/metrics"]).stdout
    }

    @Test("a node that misses its invalidations (started without --kafka) is named as a violation, in /metrics and the log")
    func aStaleNodeIsAViolation() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        // A product-service node its operator started without --kafka: it serves, and never
        // hears of an invalidation.
        let stalePort = freeTCPPort()
        let staleNode = try ChildProcess.cascade(["node", "--service", "product-service", "--port", String(stalePort), "--log-level", "warning"])
        defer { staleNode.signal(SIGKILL) }
        _ = try await staleNode.awaitLine { $0.contains("listening") }
        let metricsPort = freeTCPPort()
        let watch = try ChildProcess.cascade([
            "check", "--watch", "--status-file", dev.statusPath, "--node", "product-service=127.0.0.1:\(stalePort)",
            "--sample", "1", "--window-ms", "300", "--metrics-port", String(metricsPort), "--log-level", "info",
        ])
        defer { watch.signal(SIGKILL) }
        _ = try await watch.awaitLine(timeout: .seconds(30)) { $0.contains("following") }
        let url = "http://127.0.0.1:\(metricsPort)"
        let before = try await Self.metrics(url)
        #expect(Self.sample(before, #"cascade_consistency_violations_total{service="product-service"}"#) == 0)
        #expect(Self.sample(before, "cascade_consistency_nines") == 9)

        let cli = RedisCLI(port: stalePort)
        #expect(try await cli("SET", "product:p-31", "v1", "EX", "600", "DEPS", "Product#p-31@1") == "OK")
        let published = try await dev.publishAndWait("Product#p-31", version: 2)
        #expect(published.status == 0, "\(published.stderr)")

        var last = ""
        let reported = try await eventually(timeout: .seconds(20)) {
            last = try await Self.metrics(url)
            // The hour's gauges follow the counters within the same round.
            return Self.sample(last, #"cascade_consistency_violations_total{service="product-service"}"#) == 1
                && Self.sample(last, "cascade_consistency_violations_last_hour") == 1
        }
        #expect(reported, "\(last)")
        // product:p-31, and keys of other services the event reaches (absent, so consistent).
        #expect((Self.sample(last, #"cascade_consistency_checked_total{service="product-service"}"#) ?? 0) >= 1)
        let checks = try #require(Self.sample(last, "cascade_consistency_checked_last_hour"))
        let nines = try #require(Self.sample(last, "cascade_consistency_nines"))
        #expect(abs(nines - log10(checks)) < 0.01, "1 violation in \(checks) checks: \(last)")
        #expect(Self.sample(last, "cascade_consistency_violations_last_hour") == 1)
        // The log names the node, the key and the event.
        let named = try await eventually { watch.stderr.contains("consistency violation: product-service node 127.0.0.1:\(stalePort) still holds product:p-31") }
        #expect(named, "\(watch.stderr)")
        #expect(watch.stderr.contains("Product#p-31@2"))
        // The value really is still there: the watcher did not make it up.
        #expect(try await cli("GET", "product:p-31") == "v1")

        // SIGTERM: a clean stop.
        watch.signal(SIGTERM)
        #expect(try await watch.awaitExit(timeout: .seconds(20)) == 0)
    }

    @Test("a healthy flow is checked and reports no violation, also for a key cached again right after its invalidation")
    func aHealthyFlowHasNoViolation() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        // `cascade dev` runs the watcher (every key sampled, a 2 s window) and says where.
        let status = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dev.statusPath))) as? [String: Any]
        let url = try #require(status?["watch"] as? String)

        #expect(try await dev.cli("product-service", "SET", "product:p-41", "v1", "EX", "600", "DEPS", "Product#p-41@1") == "OK")
        #expect(try await dev.cli("product-service", "SET", "product:p-42", "v1", "EX", "600", "DEPS", "Product#p-42@1") == "OK")
        for id in ["p-41", "p-42"] {
            let published = try await dev.publishAndWait("Product#\(id)", version: 2)
            #expect(published.status == 0, "\(published.stderr)")
        }
        // Cached again from the new version before the window passes: not what the invalidation concerned.
        #expect(try await dev.cli("product-service", "SET", "product:p-42", "v2", "EX", "600", "DEPS", "Product#p-42@2") == "OK")

        var last = ""
        let checked = try await eventually(timeout: .seconds(20)) {
            last = try await Self.metrics(url)
            return (Self.sample(last, #"cascade_consistency_checked_total{service="product-service"}"#) ?? 0) >= 2
        }
        #expect(checked, "\(last)")
        for service in ["analytics-service", "order-service", "product-service", "user-service"] {
            #expect(Self.sample(last, #"cascade_consistency_violations_total{service="\#(service)"}"#) == 0, "\(last)")
        }
        #expect(Self.sample(last, "cascade_consistency_nines") == 9)
        #expect(try await dev.cli("product-service", "GET", "product:p-42") == "v2")
        #expect(!dev.process.stderr.contains("consistency violation"))
    }
}
