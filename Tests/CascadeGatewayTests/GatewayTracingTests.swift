import CascadeTestSupport
import Foundation
import Testing

/// `cascade gateway --otlp-endpoint`: a span per upstream fetch, continuing the client's
/// traceparent, exported to a real OTLP receiver; the upstream sees the span's traceparent.
@Suite("gateway fetch spans over OTLP", .serialized, .enabled(if: findExecutable("curl") != nil && findExecutable("python3") != nil))
struct GatewayTracingTests {
    @Test("a miss with a sampled traceparent is a fetch span, child of it; hits and untraced misses make none (sampling 0)")
    func fetchSpans() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.process.signal(SIGKILL) }
        let upstream = try await TestUpstream.start()
        defer { upstream.process.signal(SIGKILL) }
        let gatewayProcess = try ChildProcess.cascade([
            "gateway", "--upstream", upstream.url, "--port", "0", "--log-level", "error",
            "--otlp-endpoint", receiver.url, "--trace-sampling", "0",
        ])
        defer { gatewayProcess.signal(SIGKILL) }
        let line = try await gatewayProcess.awaitLine { $0.hasPrefix("cascade gateway ready ") }
        let gateway = String(line.dropFirst("cascade gateway ready ".count)).trimmingCharacters(in: .whitespaces)
        let traceID = "0af7651916cd43dd8448eb211c80319c"
        let parent = "00-\(traceID)-b7ad6b7169203331-01"

        // Untraced and malformed first: with sampling 0 neither makes a span.
        let untraced = try await CurlReply.fetch("\(gateway)/products/1")
        #expect(untraced.cache == "MISS")
        let malformed = try await CurlReply.fetch("\(gateway)/products/2", headers: ["traceparent: 00-nonsense"])
        #expect(malformed.status == 200)
        let miss = try await CurlReply.fetch("\(gateway)/trace", headers: ["traceparent: \(parent)"])
        #expect(miss.status == 200 && miss.cache == "MISS")
        // The upstream was sent the gateway's span, in the same trace, not the client's parent.
        #expect(miss.body.hasPrefix("00-\(traceID)-") && miss.body != parent, "\(miss.body)")
        let hit = try await CurlReply.fetch("\(gateway)/trace", headers: ["traceparent: \(parent)"])
        #expect(hit.cache == "HIT")
        // Last, a traced miss of another trace: spans are exported in the order they end, so
        // once its span is in, any span of the requests before it would be too.
        let lastTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        _ = try await CurlReply.fetch("\(gateway)/products/3", headers: ["traceparent: 00-\(lastTrace)-00f067aa0ba902b7-01"])

        var spans: [OTLPReceiver.Span] = []
        #expect(try await eventually(timeout: .seconds(20)) {
            spans = try await receiver.spans()
            return spans.contains { $0.traceID == lastTrace }
        })
        #expect(spans.count == 2, "\(spans.map { "\($0.name) \($0.traceID) \($0.attributes)" })")
        let fetch = try #require(spans.first { $0.traceID == traceID })
        #expect(fetch.name == "cascade.gateway.fetch" && fetch.service == "cascade-gateway")
        #expect(fetch.traceID == traceID && fetch.parentSpanID == "b7ad6b7169203331")
        #expect(miss.body == "00-\(traceID)-\(fetch.spanID)-01")
        #expect(fetch.attributes["url.path"] as? String == "/trace")
        #expect(fetch.attributes["http.response.status_code"] as? Int == 200)
    }
}
