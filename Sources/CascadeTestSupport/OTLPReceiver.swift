import Foundation

/// The OTLP/HTTP receiver of the tests: scripts/otlp-receiver.py (PyPI's opentelemetry-proto,
/// which `make deps` installs into .build/python), a real process taking what a collector takes.
public struct OTLPReceiver: Sendable {
    public let process: ChildProcess
    public let url: String

    public static var pythonPath: String { CascadeBinary.packageRoot.appendingPathComponent(".build/python").path }

    public static func start() async throws -> OTLPReceiver {
        let script = CascadeBinary.packageRoot.appendingPathComponent("scripts/otlp-receiver.py")
        let process = try ChildProcess(
            URL(fileURLWithPath: findExecutable("python3") ?? "/usr/bin/python3"), [script.path, "--port", "0"],
            environment: ["PYTHONPATH": pythonPath])
        try process.run()
        let line = try await process.awaitLine { $0.hasPrefix("listening ") }
        return OTLPReceiver(process: process, url: "http://127.0.0.1:" + line.dropFirst("listening ".count).trimmingCharacters(in: .whitespaces))
    }

    public struct Span {
        public var traceID, spanID, parentSpanID, name, service: String
        public var attributes: [String: Any]
    }

    /// Every span received so far.
    public func spans() async throws -> [Span] {
        let body = try await runCommand("curl", ["-s", url + "/spans"]).stdout
        let list = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] ?? []
        return list.map {
            Span(
                traceID: $0["trace_id"] as? String ?? "", spanID: $0["span_id"] as? String ?? "",
                parentSpanID: $0["parent_span_id"] as? String ?? "", name: $0["name"] as? String ?? "",
                service: $0["service"] as? String ?? "", attributes: $0["attributes"] as? [String: Any] ?? [:])
        }
    }
}
