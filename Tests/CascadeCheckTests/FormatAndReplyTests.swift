import CascadeCheck
import CascadeClient
import CascadeRESP
import Foundation
import Testing

@Suite struct NinesTests {
    @Test func ninesAndPercentages() {
        #expect(Nines.of(1) == nil)
        #expect(Nines.of(0) == 0)
        #expect(abs((Nines.of(0.999) ?? 0) - 3) < 1e-9)
        #expect(Nines.percent(0.999) == "99.9%")
        #expect(Nines.percent(0.9995) == "99.95%")
        #expect(Nines.percent(0.5) == "50%")
        #expect(Nines.percent(0.9999996) == "99.99996%")
        #expect(Nines.percent(1 - 1e-9) != "100%")
        #expect(Nines.describe(0.999) == "99.9% (3.0 nines)")
        #expect(Nines.describe(1) == "100%")
    }
}

@Suite struct FormatTests {
    let report: CheckReport = {
        let services = [
            ServiceKeys(service: "order-service", keys: (0..<4).map { KeyMeta(key: "o\($0)", setAtMillis: 1, dependencies: []) }),
            ServiceKeys(service: "user-service", keys: [KeyMeta(key: "u", setAtMillis: 1, dependencies: [])]),
        ]
        var stale = StaleKey(service: "order-service", key: Array("o1".utf8), reasons: [.newerVersion(dependency: "X#1@1", registered: 1, ledger: 2)])
        stale.repaired = true
        return CheckReport(services: services, stale: [stale], finishedAt: Date(timeIntervalSince1970: 1_700_000_000), durationSeconds: 0.25, repair: true)
    }()

    @Test func textNamesTheKeyTheReasonAndTheRatio() {
        let text = CheckFormat.text.render(report)
        #expect(text.contains("stale order-service o1: X#1@1 was cached at version 1 but the ledger is at version 2  [repaired: deleted]"))
        #expect(text.contains("order-service       4       1  75%"))
        #expect(text.contains("user-service        1       0  100%"))
        #expect(text.hasSuffix("1 of 5 keys stale; consistency 80% (0.7 nines)"))
    }

    @Test func jsonIsParseableAndComplete() throws {
        let data = Data(CheckFormat.json.render(report).utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["consistent"] as? Bool == false)
        #expect(object["keys"] as? Int == 5)
        #expect(object["stale_keys"] as? Int == 1)
        #expect(object["consistency_ratio"] as? Double == 0.8)
        let stale = try #require(object["stale"] as? [[String: Any]])
        #expect(stale.first?["key"] as? String == "o1")
        #expect(stale.first?["repaired"] as? Bool == true)
        let reasons = try #require(stale.first?["reasons"] as? [[String: String]])
        #expect(reasons.first?["kind"] == "newer_version")
        let failure = try #require(CheckFormat.json.renderFailure("bus down"))
        #expect(failure == #"{"error":"bus down","success":false}"#)
    }

    @Test func prometheusIsTheTextfileFormat() throws {
        let text = CheckFormat.prometheus.render(report)
        for line in [
            "# TYPE cascade_check_keys_total gauge",
            "cascade_check_keys_total{service=\"order-service\"} 4",
            "cascade_check_keys_total{service=\"user-service\"} 1",
            "cascade_check_stale_keys{service=\"order-service\"} 1",
            "cascade_check_stale_keys{service=\"user-service\"} 0",
            "cascade_check_consistency_ratio 0.8",
            "cascade_check_last_run_timestamp_seconds 1700000000",
            "cascade_check_success 1",
        ] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "\(line) in \(text)")
        }
        // Every sample line is `name{labels} value`, every metric has HELP and TYPE.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2 && Double(line.split(separator: " ")[1]) != nil, "\(line)")
        }
        let failure = try #require(CheckFormat.prometheus.renderFailure("x", at: Date(timeIntervalSince1970: 5)))
        #expect(failure.contains("cascade_check_success 0\n") && failure.contains("cascade_check_last_run_timestamp_seconds 5\n"))
    }
}

@Suite struct ReplyTests {
    @Test func metaRepliesInRESP2AndRESP3DecodeTheSame() throws {
        let resp2 = "*10\r\n$6\r\nexists\r\n:1\r\n$9\r\nset_at_ms\r\n:500\r\n$6\r\nttl_ms\r\n:-1\r\n$4\r\ndeps\r\n*1\r\n*8\r\n$3\r\ndep\r\n$5\r\nX#1@1\r\n$3\r\ntag\r\n$3\r\nX#1\r\n$7\r\nversion\r\n:1\r\n$5\r\nfence\r\n$-1\r\n$9\r\nkey_fence\r\n$-1\r\n"
        let resp3 = "%5\r\n$6\r\nexists\r\n:1\r\n$9\r\nset_at_ms\r\n:500\r\n$6\r\nttl_ms\r\n:-1\r\n$4\r\ndeps\r\n*1\r\n%4\r\n$3\r\ndep\r\n$5\r\nX#1@1\r\n$3\r\ntag\r\n$3\r\nX#1\r\n$7\r\nversion\r\n:1\r\n$5\r\nfence\r\n_\r\n$9\r\nkey_fence\r\n%2\r\n$5\r\nat_ms\r\n:7\r\n$5\r\ncause\r\n$5\r\nX#1@2\r\n"
        var metas: [KeyMeta] = []
        for text in [resp2, resp3] {
            var reader = RESPReplyReader()
            let bytes = Array(text.utf8)
            // Byte by byte: nil until the reply is whole.
            var reply: RESPValue?
            for byte in bytes {
                #expect(reply == nil)
                reader.append([byte])
                reply = try reader.next()
            }
            metas.append(try KeyMeta(key: Array("k".utf8), reply: try #require(reply)))
        }
        let expected = KeyMeta(key: "k", setAtMillis: 500, dependencies: [.init(dep: "X#1@1", tag: "X#1", version: 1)])
        #expect(metas[0] == expected)
        #expect(metas[1].keyFence == .init(atMillis: 7, cause: "X#1@2"))
        #expect(throws: RESPDecodeError.self) { try KeyMeta(key: [], reply: .error("ERR unknown command")) }
        var bad = RESPReplyReader()
        bad.append(Array("?oops\r\n".utf8))
        #expect(throws: RESPDecodeError.self) { try bad.next() }
    }

    @Test func targetsMergeAndComplain() throws {
        #expect(try CheckTargets.parseNode("user-service=10.0.0.1:6379") == ("user-service", "10.0.0.1:6379"))
        #expect(throws: CheckTargets.Problem.self) { try CheckTargets.parseNode("user-service") }
        #expect(throws: CheckTargets.Problem.self) { try CheckTargets.parseNode("a=host:99999") }
        let file = try CheckTargets.decode(Data(#"{"admin":"http://bus:8080","nodes":{"a":"a:1"},"kafka":"k:9092"}"#.utf8), path: "c.json")
        let merged = file.overridden(by: CheckTargets(adminToken: "t", nodes: ["b": "b:2"]))
        #expect(merged == CheckTargets(admin: "http://bus:8080", adminToken: "t", nodes: ["a": "a:1", "b": "b:2"]))
        #expect(CheckTargets(nodes: ["a": "a:1"]).missing != nil)
        #expect(throws: CheckTargets.Problem.self) { try CheckTargets.decode(Data("nodes: []".utf8), path: "c.yaml") }
    }
}
