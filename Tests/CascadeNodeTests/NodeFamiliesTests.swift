import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// `cascade node --graph`: families in INFO and on /metrics, eviction by tier, CASCADE.HOTKEYS,
/// refresh hints read with kcat, and `cascade warm` into the running node.
@Suite("cascade node --graph")
struct NodeFamiliesTests {
    static let graph = """
        service: shop
        tier: standard
        caches:
          product:
            key: "product:{id}"
            ttl: 30m
          product-page:
            key: "product:{id}:page"
            ttl: 10m
            tier: critical
          report:
            key: "report:{day}"
            ttl: {adaptive: {min: 45s, max: 1h}}
            tier: background

        """

    /// The `family:<name>:` line of INFO cascade as a dictionary of its fields.
    static func familyFields(_ info: String, _ name: String) -> [String: String] {
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("family:\(name):") } ?? ""
        var fields: [String: String] = [:]
        for pair in line.dropFirst("family:\(name):".count).split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        return fields
    }

    @Test("keys are attributed to families: INFO cascade and /metrics per family, META names the family")
    func attribution() async throws {
        let folder = try TempDirectory(["shop.yaml": Self.graph])
        defer { folder.remove() }
        let metricsPort = Int.random(in: 30_000...60_000)
        let node = try await RunningNode.start(["--graph", folder.directory, "--metrics-port", String(metricsPort)])
        defer { node.process.signal(SIGKILL) }
        for key in ["product:1", "product:2", "product:1:page", "report:mon", "elsewhere"] {
            #expect(try await node.cli("SET", key, "v") == "OK")
        }
        #expect(try await node.cli("GET", "product:1:page") == "v")
        #expect(try await node.cli("GET", "product:1:page") == "v")
        #expect(try await node.cli("GET", "product:9:page") == "")
        #expect(try await node.cli("GET", "product:1") == "v")
        let info = try await node.cli("INFO", "cascade")
        let page = Self.familyFields(info, "product-page")
        #expect(page["keys"] == "1" && page["hits"] == "2" && page["misses"] == "1" && page["hit_ratio"] == "0.6667", "\(info)")
        #expect(page["evictions"] == "0" && page["ttl"] == "600" && page["tier"] == "critical")
        #expect(Self.familyFields(info, "product")["keys"] == "2")
        let report = Self.familyFields(info, "report")
        #expect(report["ttl_mode"] == "adaptive" && report["keys"] == "1")
        #expect(info.contains("tier:critical:bytes="))
        #expect(info.contains("tier:background:bytes="))
        // A value of an adaptive family stored without a TTL gets the learned one (at first its floor).
        let ttl = Int(try await node.cli("TTL", "report:mon")) ?? 0
        #expect(ttl > 40 && ttl <= 3600, "ttl \(ttl)")
        let meta = try await node.cli("CASCADE.META", "report:mon")
        #expect(meta.contains("family\nreport\nttl_adaptive\n1"), "\(meta)")
        let scraped = try await eventually {
            let body = try await runCommand("curl", ["-s", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
            return body.split(separator: "\n").contains {
                $0.hasPrefix("cascade_node_family_hits{") && $0.contains(#"family="product-page""#)
                    && $0.contains(#"service="shop""#) && $0.hasSuffix(" 2.0")
            } && body.contains("cascade_node_tier_bytes{")
        }
        #expect(scraped)
    }

    @Test("under a small --max-memory the lower tier loses its keys and the critical one keeps them")
    func evictionByTier() async throws {
        let folder = try TempDirectory(["shop.yaml": Self.graph])
        defer { folder.remove() }
        let node = try await RunningNode.start(["--graph", folder.directory, "--max-memory", "4mb", "--threads", "1"])
        defer { node.process.signal(SIGKILL) }
        let value = String(repeating: "x", count: 1000)
        var batch = ""
        for index in 0..<100 { batch += "SET product:\(index):page \(value)\n" }
        for index in 0..<6000 { batch += "SET report:\(index) \(value)\n" }
        _ = try await node.cli.run(["--pipe"], stdin: batch)
        let info = try await node.cli("INFO", "cascade")
        let page = Self.familyFields(info, "product-page")
        let report = Self.familyFields(info, "report")
        #expect(page["keys"] == "100" && page["evictions"] == "0", "\(info)")
        #expect((Int(report["evictions"] ?? "") ?? 0) > 2000, "\(info)")
    }

    @Test("CASCADE.HOTKEYS lists the most read keys, hottest first")
    func hotKeys() async throws {
        let node = try await RunningNode.start()
        defer { node.process.signal(SIGKILL) }
        var batch = "SET a 1\nSET b 2\nSET c 3\n"
        for _ in 0..<30 { batch += "GET b\n" }
        for _ in 0..<10 { batch += "GET a\n" }
        batch += "GET c\n"
        _ = try await node.cli.run(["--pipe"], stdin: batch)
        #expect(try await node.cli("CASCADE.HOTKEYS", "2") == "b\n30\na\n10")
        #expect(try await node.cli("CASCADE.HOTKEYS", "x").hasPrefix("ERR"))
    }

    @Test("cascade warm loads JSON lines into a running node, from a file and from stdin")
    func warm() async throws {
        let folder = try TempDirectory([:])
        defer { folder.remove() }
        let node = try await RunningNode.start()
        defer { node.process.signal(SIGKILL) }
        var lines = (0..<2000).map { #"{"key":"product:\#($0)","value":"v\#($0)","ttl":600}"# }
        lines.append(#"{"key":"product:p-17","value":"{\"name\":\"lamp\"}","ttl":600,"deps":["Product#p-17@41"]}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder.path("warm.jsonl"), atomically: true, encoding: .utf8)
        let run = try ChildProcess.cascade(["warm", "--service", "shop", "--node", "127.0.0.1:\(node.port)", folder.path("warm.jsonl")])
        #expect(try await run.awaitExit() == 0, "\(run.stderr)")
        #expect(run.stdout.contains("2001 stored, 0 refused, 0 malformed"), "\(run.stdout)")
        #expect(run.stderr.contains("100%"))
        #expect(try await node.cli("DBSIZE") == "2001")
        #expect(try await node.cli("GET", "product:1999") == "v1999")
        let ttl = Int(try await node.cli("TTL", "product:5")) ?? 0
        #expect(ttl > 590 && ttl <= 600)
        #expect(try await node.cli("CASCADE.META", "product:p-17").contains("Product#p-17@41"))

        let piped = try ChildProcess.cascade(["warm", "--service", "shop", "--node", "127.0.0.1:\(node.port)", "-"])
        piped.write(#"{"key":"k1","value":"one"}"# + "\nnot json\n\n" + #"{"key":"k2","value":"two"}"# + "\n")
        piped.closeStdin()
        #expect(try await piped.awaitExit() == 1)
        #expect(piped.stdout.contains("2 stored, 0 refused, 1 malformed"), "\(piped.stdout)")
        #expect(piped.stderr.contains("stdin:2 is not a JSON object"), "\(piped.stderr)")
        #expect(try await node.cli("GET", "k2") == "two")
    }
}

/// A hot key invalidated through Kafka produces a refresh hint that kcat reads.
@Suite("refresh hints", .enabled(if: findExecutable("kcat") != nil))
struct NodeRefreshHintTests {
    @Test("an invalidated hot key is published on cascade.refresh.<service> with its family, hits and cause")
    func refreshHint() async throws {
        let topics = Topics()
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        for topic in [topics.invalidations(service: "shop"), topics.deps, topics.refresh(service: "shop")] {
            try kafka.createTopic(topic, partitions: 1)
        }
        let folder = try TempDirectory(["shop.yaml": NodeFamiliesTests.graph])
        defer { folder.remove() }
        let node = try await RunningNode.start(["--kafka", kafka.bootstrapServers, "--graph", folder.directory])
        defer { node.process.signal(SIGKILL) }
        _ = try await node.process.awaitLine { $0.contains("ready") }
        var batch = "SET product:7:page hot\nSET product:8:page cold\n"
        for _ in 0..<20 { batch += "GET product:7:page\n" }
        batch += "GET product:8:page\n"
        _ = try await node.cli.run(["--pipe"], stdin: batch)

        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers))
        let cause = InvalidationMessage.Cause(eventID: "ev-1", entity: "Product", id: "7", version: 42, atMillis: Timestamps.nowMillis())
        let message = InvalidationMessage(
            kind: .invalidate, cause: cause, keys: [.init(key: "product:7:page", depth: 1), .init(key: "product:8:page", depth: 1)],
            tags: [], fences: [])
        try await producer.send(topic: topics.invalidations(service: "shop"), key: "Product#7", value: message.encoded())
        await producer.shutdown()

        var seen = ""
        let arrived = try await eventually(timeout: .seconds(20)) {
            seen = try await runCommand("kcat", [
                "-b", kafka.bootstrapServers, "-C", "-t", topics.refresh(service: "shop"), "-o", "beginning", "-e", "-f", "%k\t%s\n",
            ]).stdout
            return !seen.isEmpty
        }
        #expect(arrived)
        let lines = seen.split(separator: "\n")
        #expect(lines.count == 1, "only the hot key: \(seen)")
        let parts = try #require(lines.first?.split(separator: "\t", maxSplits: 1))
        #expect(parts.first == "product:7:page")
        let hint = try RefreshHint.decode(Array((parts.last ?? "").utf8))
        #expect(hint.key == "product:7:page" && hint.family == "product-page" && hint.hits >= 20)
        #expect(hint.cause == RefreshHint.Cause(entity: "Product", id: "7", version: 42, eventID: "ev-1"))
    }
}
