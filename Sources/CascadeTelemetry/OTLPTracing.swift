import CascadeTracing
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// The tracer `--otlp-endpoint` asks for: spans batched and sent over OTLP/HTTP (protobuf)
/// to a collector, and the service that sends them, run in the process's ServiceGroup (it
/// flushes what is left when the group stops). Only traces: logs and metrics keep their own
/// systems, and no global system is bootstrapped, so a process may build one per component.
public struct OTLPTracing: Sendable {
    public let spans: SpanStarter
    public let service: any Service

    /// `endpoint`: the collector's base URL (`http://host:4318`), `/v1/traces` added when it
    /// names no path, or the full traces URL. `samplingRatio`: the share of events that come
    /// without a trace that are traced; work a sampled traceparent caused always is.
    public init(endpoint: String, serviceName: String, samplingRatio: Double, logger: Logger) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        // Cascade decides what to record before starting a span (`SpanStarter`): the tracer
        // records what it is given, and children follow their parent's decision.
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.endpoint = try Self.tracesURL(endpoint)
        // Spans reach the collector within a second rather than the default five.
        configuration.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        spans = SpanStarter(tracer: backend.factory, samplingRatio: samplingRatio)
        service = backend.service
    }

    /// The URL spans are posted to.
    public static func tracesURL(_ endpoint: String) throws -> String {
        guard let url = URL(string: endpoint), let scheme = url.scheme, scheme == "http" || scheme == "https", url.host != nil else {
            throw InvalidEndpoint(endpoint: endpoint)
        }
        if url.path.isEmpty || url.path == "/" {
            return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
        }
        return endpoint
    }

    public struct InvalidEndpoint: Error, CustomStringConvertible {
        public let endpoint: String
        public var description: String {
            "--otlp-endpoint '\(endpoint)' is not an http:// or https:// URL (e.g. http://localhost:4318)"
        }
    }
}
