import ArgumentParser
import CascadeTelemetry
import Logging

/// `--otlp-endpoint` and its sampling, shared by bus, node and gateway: tracing is off unless
/// an endpoint is given.
struct TracingOptions: ParsableArguments {
    @Option(help: "Export spans over OTLP/HTTP to this collector, e.g. http://localhost:4318 (/v1/traces is added to a URL without a path). Off when absent.")
    var otlpEndpoint: String?

    @Option(help: "With --otlp-endpoint: the share (0 to 1) of work arriving without a trace that is traced; work whose traceparent is sampled always is.")
    var traceSampling: Double = 0.01

    func validate() throws {
        guard (0...1).contains(traceSampling) else { throw ValidationError("--trace-sampling must be from 0 to 1") }
        if let otlpEndpoint {
            do { _ = try OTLPTracing.tracesURL(otlpEndpoint) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The tracer and its exporting service, or nil when tracing is off. Its service goes
    /// first in a ServiceGroup, so that it stops last and sends the last spans.
    func make(serviceName: String, logger: Logger) throws -> OTLPTracing? {
        guard let otlpEndpoint else { return nil }
        let tracing = try OTLPTracing(endpoint: otlpEndpoint, serviceName: serviceName, samplingRatio: traceSampling, logger: logger)
        logger.info("exporting spans", metadata: ["endpoint": "\(otlpEndpoint)", "sampling": "\(traceSampling)"])
        return tracing
    }
}
