import CascadeTestSupport
import Foundation
import Testing

/// Issue 26's traces: an event published with a traceparent, through `cascade bus` and
/// `cascade node` processes exporting to a real OTLP receiver; the spans continue the trace.
@Suite("Traces from a published event through the bus to the node, over OTLP", .serialized,
       .enabled(if: findExecutable("kcat") != nil && findExecutable("redis-cli") != nil && findExecutable("curl") != nil
           && findExecutable("python3") != nil))
struct TracingEndToEndTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let cloudTraceID = "0af7651916cd43dd8448eb211c80319c"

    @Test("bus resolve span child of the event's traceparent, node apply span child of the bus span; untraced events make none")
    func traceThroughBusAndNode() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.process.signal(SIGKILL) }
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", "2", "--log-level", "warning"])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let graph = CascadeBinary.packageRoot.appendingPathComponent("graph").path
        // Sampling 0: only what arrives with a sampled trace is traced.
        let tracing = ["--otlp-endpoint", receiver.url, "--trace-sampling", "0", "--log-level", "warning"]
        let bus = try ChildProcess.cascade(
            ["bus", "--graph", graph, "--kafka", bootstrap, "--admin-port", "0", "--partitions", "2", "--source", "cloudevents:shop.cloudevents"]
                + tracing)
        defer { bus.signal(SIGKILL) }
        _ = try await bus.awaitLine(timeout: .seconds(60)) { $0.hasPrefix("cascade bus ready") }
        let node = try ChildProcess.cascade(["node", "--service", "product-service", "--port", "0", "--kafka", bootstrap] + tracing)
        defer { node.signal(SIGKILL) }
        let listening = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
        let port = try #require(listening.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        _ = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("ready (invalidations") }
        let cli = RedisCLI(port: port)
        for id in ["p-1", "p-2", "p-3", "p-4"] {
            #expect(try await cli("SET", "product:\(id)", "cached", "DEPS", "Product#\(id)@1") == "OK")
        }

        // No trace, then a malformed traceparent (kcat, as any producer would send it): both
        // invalidate as ever, and neither is traced.
        try await publish(["Product#p-2", "--version", "2", "--op", "update", "--kafka", bootstrap])
        try await produce(bootstrap, "cascade.events", key: "Product#p-3", value: #"{"entity":"Product","id":"p-3","op":"update","version":2,"origin":"t"}"#,
                          headers: ["traceparent=00-not-a-trace-01"])
        #expect(try await eventually(timeout: .seconds(30)) { try await dropped(cli, ["product:p-2", "product:p-3"]) })

        // With a sampled traceparent header (cascade publish --traceparent), and a CloudEvent
        // carrying the distributed-tracing extension in its JSON.
        try await publish([
            "Product#p-1", "--version", "2", "--op", "update", "--kafka", bootstrap,
            "--traceparent", "00-\(Self.traceID)-00f067aa0ba902b7-01",
        ])
        let cloudEvent = #"{"specversion":"1.0","type":"com.shop.product.updated","source":"/shop","id":"ce-9","subject":"p-4","sequence":"5","traceparent":"00-\#(Self.cloudTraceID)-b7ad6b7169203331-01","data":{}}"#
        try await produce(bootstrap, "shop.cloudevents", key: "p-4", value: cloudEvent, headers: ["content-type=application/cloudevents+json"])
        #expect(try await eventually(timeout: .seconds(30)) { try await dropped(cli, ["product:p-1", "product:p-4"]) })

        var spans: [OTLPReceiver.Span] = []
        let complete = try await eventually(timeout: .seconds(30)) {
            spans = try await receiver.spans()
            return Set(spans.map(\.name)) == ["cascade.bus.resolve", "cascade.node.apply"] && spans.count >= 4
        }
        #expect(complete, "spans: \(spans.map { "\($0.service) \($0.name) \($0.traceID)" })")
        for (traceID, parentID, ref) in [(Self.traceID, "00f067aa0ba902b7", "Product#p-1"), (Self.cloudTraceID, "b7ad6b7169203331", "Product#p-4")] {
            let resolve = spans.filter { $0.traceID == traceID && $0.name == "cascade.bus.resolve" }
            let apply = spans.filter { $0.traceID == traceID && $0.name == "cascade.node.apply" }
            #expect(resolve.count == 1 && apply.count == 1, "\(traceID): \(spans.map { "\($0.name) \($0.traceID)" })")
            guard let busSpan = resolve.first, let nodeSpan = apply.first else { continue }
            #expect(busSpan.parentSpanID == parentID, "the bus continues the event's trace")
            #expect(busSpan.service == "cascade-bus")
            #expect(busSpan.attributes["cascade.event.ref"] as? String == ref)
            #expect((busSpan.attributes["cascade.keys"] as? Int ?? 0) >= 1)
            #expect((busSpan.attributes["cascade.services"] as? [String])?.contains("product-service") == true)
            #expect(nodeSpan.parentSpanID == busSpan.spanID, "the node's apply is a child of the bus's span")
            #expect(nodeSpan.service == "cascade-node-product-service")
            #expect((nodeSpan.attributes["cascade.keys_removed"] as? Int ?? 0) >= 1)
        }
        // The untraced and the malformed events made no spans (sampling 0).
        #expect(spans.allSatisfy { $0.traceID == Self.traceID || $0.traceID == Self.cloudTraceID },
                "\(spans.map { "\($0.name) \($0.traceID)" })")
        #expect(bus.isRunning && node.isRunning)
    }

    @Test("cascade dev --otlp-endpoint: the bus's resolve and the node's apply of one published event, one trace, service cascade-dev")
    func devExportsOneTrace() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.process.signal(SIGKILL) }
        let dev = try await DevSession.start(["--otlp-endpoint", receiver.url, "--trace-sampling", "0"])
        defer { dev.kill() }
        #expect(try await dev.cli("product-service", "SET", "product:p-7", "cached", "DEPS", "Product#p-7@1") == "OK")
        try await publish([
            "Product#p-7", "--version", "2", "--op", "update", "--kafka", dev.kafka,
            "--traceparent", "00-\(Self.traceID)-00f067aa0ba902b7-01",
        ])
        var spans: [OTLPReceiver.Span] = []
        let complete = try await eventually(timeout: .seconds(30)) {
            spans = try await receiver.spans().filter { $0.traceID == Self.traceID }
            return Set(spans.map(\.name)).isSuperset(of: ["cascade.bus.resolve", "cascade.node.apply"])
        }
        #expect(complete, "spans: \(spans.map { "\($0.service) \($0.name)" })")
        let resolve = spans.first { $0.name == "cascade.bus.resolve" }
        let apply = spans.first { $0.name == "cascade.node.apply" && $0.parentSpanID == resolve?.spanID }
        #expect(resolve?.parentSpanID == "00f067aa0ba902b7" && apply != nil)
        #expect(spans.allSatisfy { $0.service == "cascade-dev" })
        #expect(try await dev.cli("product-service", "EXISTS", "product:p-7") == "0")
    }

    private func dropped(_ cli: RedisCLI, _ keys: [String]) async throws -> Bool {
        try await cli(["EXISTS"] + keys) == "0"
    }

    private func publish(_ arguments: [String]) async throws {
        let result = try await runCommand(CascadeBinary.url.path, ["publish"] + arguments)
        try result.requireSuccess()
    }

    private func produce(_ bootstrap: String, _ topic: String, key: String, value: String, headers: [String]) async throws {
        let result = try await runCommand(
            "kcat", ["-b", bootstrap, "-P", "-t", topic, "-K", "\t"] + headers.flatMap { ["-H", $0] }, stdin: key + "\t" + value + "\n")
        try result.requireSuccess()
    }
}
