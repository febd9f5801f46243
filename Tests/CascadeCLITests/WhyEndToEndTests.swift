import CascadeTestSupport
import Foundation
import Testing

/// `cascade why` against a real `cascade dev`, the chain registered with redis-cli and the
/// event published with kcat (with a W3C `traceparent` header, as a traced producer sends it).
@Suite("cascade why end to end, and the gauges at rest", .serialized, .enabled(if: findExecutable("kcat") != nil && findExecutable("redis-cli") != nil))
struct WhyEndToEndTests {
    @Test("names the root event and the three hops of a depth-3 chain; says when nothing reaches a key")
    func explainsAChainAndAKeyNothingReaches() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        // In its first seconds the bus cannot tell whether a key named as a dependency changed
        // just before (its memory of invalidations starts with it), so the race check may drop
        // such a registration at once (docs/consistency.md): stored again until it holds.
        #expect(try await eventually(timeout: .seconds(60)) {
            guard try await dev.cli("product-service", "SET", "why:a", "a", "DEPS", "Product#p-80@1") == "OK",
                  try await dev.cli("order-service", "SET", "why:b", "b", "DEPS", "product-service/why:a") == "OK",
                  try await dev.cli("analytics-service", "SET", "why:c", "c", "DEPS", "order-service/why:b") == "OK"
            else { return false }
            let indexed = try await eventually(timeout: .seconds(5)) {
                try await runCommand("curl", ["-s", "\(dev.admin)/impact?ref=Product%23p-80"]).stdout.contains("why:c")
            }
            let c = try await dev.cli("analytics-service", "EXISTS", "why:c")
            let b = try await dev.cli("order-service", "EXISTS", "why:b")
            return indexed && c == "1" && b == "1"
        })
        #expect(try await dev.cli("user-service", "SET", "why:lonely", "l") == "OK")
        #expect(try await dev.cli("product-service", "SET", "why:calm", "m", "DEPS", "Product#p-81@1") == "OK")
        #expect(try await eventually(timeout: .seconds(30)) {
            try await runCommand("curl", ["-s", "\(dev.admin)/impact?ref=Product%23p-81"]).stdout.contains("why:calm")
        })

        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let event = #"{"entity":"Product","id":"p-80","op":"update","version":2,"origin":"test","event_id":"ev-80"}"#
        let sent = try await runCommand(
            "kcat", ["-b", dev.kafka, "-P", "-t", "cascade.events", "-k", "Product#p-80", "-H", "traceparent=00-\(trace)-00f067aa0ba902b7-01"],
            stdin: event + "\n")
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(try await eventually(timeout: .seconds(30)) { try await dev.cli("analytics-service", "EXISTS", "why:c") == "0" })

        // The bus answers as soon as it sent the batch; the acknowledgement comes a moment later.
        var object: [String: Any] = [:]
        #expect(try await eventually(timeout: .seconds(10)) {
            let why = try await runCommand(
                CascadeBinary.url.path, ["why", "analytics-service/why:c", "--status-file", dev.statusPath, "--format", "json"])
            guard why.status == 0 else { return false }
            object = (try? JSONSerialization.jsonObject(with: Data(why.stdout.utf8))) as? [String: Any] ?? [:]
            let times = ((object["invalidations"] as? [[String: Any]])?.first?["times"] as? [String: Any]) ?? [:]
            return times["invalidation_acked_ms"] != nil && times["applied_ms"] != nil
        }, "\(object)")
        #expect(object["service"] as? String == "analytics-service" && object["key"] as? String == "why:c")
        #expect(object["present"] as? Bool == false)
        let invalidation = try #require((object["invalidations"] as? [[String: Any]])?.first)
        let cause = invalidation["cause"] as? [String: Any] ?? [:]
        #expect(cause["entity"] as? String == "Product" && cause["id"] as? String == "p-80" && cause["version"] as? Int == 2)
        #expect(cause["event_id"] as? String == "ev-80" && cause["topic"] as? String == "cascade.events")
        #expect(cause["trace_id"] as? String == trace)
        #expect(invalidation["depth"] as? Int == 3)
        let path = invalidation["path"] as? [[String: Any]] ?? []
        #expect(path.compactMap { $0["key"] as? String } == ["product-service/why:a", "order-service/why:b", "analytics-service/why:c"])
        #expect(path.compactMap { $0["reason"] as? String }.count == 3)
        let verdict = object["verdict"] as? String ?? ""
        #expect(verdict.hasPrefix("invalidated by Product#p-80@2 through 3 hops, "), "\(verdict)")
        #expect(verdict.hasSuffix(" ms after the event"), "\(verdict)")

        let text = try await runCommand(CascadeBinary.url.path, ["why", "analytics-service/why:c", "--status-file", dev.statusPath])
        #expect(text.status == 0, "\(text.stderr)")
        for expected in ["Product#p-80@2", "ev-80", trace, "→ product-service/why:a", "→ order-service/why:b", "→ analytics-service/why:c",
                         "applied on the node +"] {
            #expect(text.stdout.contains(expected), "\(expected) in \(text.stdout)")
        }

        let lonely = try await runCommand(
            CascadeBinary.url.path, ["why", "user-service/why:lonely", "--status-file", dev.statusPath, "--format", "json"])
        let lonelyObject = (try? JSONSerialization.jsonObject(with: Data(lonely.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(lonelyObject["present"] as? Bool == true)
        #expect((lonelyObject["verdict"] as? String ?? "").hasPrefix("no registration reaches it from any changed entity"), "\(lonely.stdout)")

        let calm = try await runCommand(CascadeBinary.url.path, ["why", "product-service/why:calm", "--status-file", dev.statusPath])
        #expect(calm.stdout.hasPrefix("product-service/why:calm: no event has reached it since it was stored"), "\(calm.stdout)\(calm.stderr)")

        // Published with an entity the graph does not know: the bus dead-letters it.
        #expect(try await dev.cli("product-service", "SET", "why:lost", "x", "DEPS", "Product#p-82@1") == "OK")
        let broken = try await runCommand(
            "kcat", ["-b", dev.kafka, "-P", "-t", "cascade.events", "-k", "Product#p-82"], stdin: #"{"entity":"Product","id":"p-82","version":"two"}"# + "\n")
        #expect(broken.status == 0)
        var lost = ""
        #expect(try await eventually(timeout: .seconds(20)) {
            lost = try await runCommand(CascadeBinary.url.path, ["why", "product-service/why:lost", "--status-file", dev.statusPath]).stdout
            return lost.contains("dead-letter topic")
        }, "\(lost)")

        for bad in [["why", "no-slash", "--status-file", dev.statusPath], ["why", "/key", "--status-file", dev.statusPath],
                    ["why", "svc/", "--status-file", dev.statusPath], ["why", "a/b"]] {
            let refused = try await runCommand(CascadeBinary.url.path, bad)
            #expect(refused.status == 2, "\(bad)")
            #expect(refused.stderr.contains("SERVICE/KEY") || refused.stderr.contains("--status-file"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("Fatal error"))
        }
        let unknown = try await runCommand(CascadeBinary.url.path, ["why", "no-such-service/k", "--status-file", dev.statusPath])
        #expect(unknown.status == 2 && unknown.stderr.contains("no node for no-such-service"), "\(unknown.stderr)")
    }

    @Test("the indexed-keys gauge equals the registrations once idle; Ctrl-C stops without connection-refused warnings")
    func gaugeAtRestAndQuietStop() async throws {
        let dev = try await DevSession.start()
        defer { dev.kill() }
        let count = 3000
        var pipe = ""
        for index in 0..<count { pipe += "SET burst:\(index) v DEPS Product#p-\(index % 97)@1\r\n" }
        let loaded = try await runCommand("redis-cli", ["-p", String(dev.nodes["product-service"] ?? 0), "--pipe"], stdin: pipe)
        #expect(loaded.status == 0, "\(loaded.stderr)")
        var gauge: Int?
        #expect(try await eventually(timeout: .seconds(30)) {
            let metrics = try await runCommand("curl", ["-s", "\(dev.admin)/metrics"]).stdout
            gauge = metrics.split(separator: "\n").first { $0.hasPrefix("cascade_bus_indexed_keys ") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
            return gauge == count
        }, "cascade_bus_indexed_keys is \(gauge.map(String.init) ?? "absent"), \(count) registered")

        #expect(try await dev.stop() == 0)
        let stderr = dev.process.stderr
        #expect(!stderr.lowercased().contains("connection refused"), "\(stderr)")
    }
}
