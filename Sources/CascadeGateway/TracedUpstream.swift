import CascadeTracing
import Tracing

/// An upstream whose fetches are spans (`--otlp-endpoint`): each continues the client's
/// `traceparent` when it sent a valid one, and the upstream is sent the span's instead, so
/// the upstream's own spans hang below the gateway's.
struct TracedUpstream: Upstream {
    let inner: any Upstream
    let tracing: SpanStarter

    init(_ inner: any Upstream, tracing: SpanStarter) {
        self.inner = inner
        self.tracing = tracing
    }

    func send(_ request: GatewayRequest) async throws -> UpstreamResponse {
        let parent = request.values("traceparent").last.flatMap { Traceparent($0) }
        guard let span = tracing.start("cascade.gateway.fetch", kind: .client, parent: parent) else {
            return try await inner.send(request)
        }
        defer { span.end() }
        span.attributes["http.request.method"] = request.method
        span.attributes["url.path"] = request.path
        var forwarded = request
        forwarded.headers.removeAll { HeaderName.matches($0.name, lowercased: "traceparent") }
        if let own = tracing.traceparent(of: span) { forwarded.headers.append((name: "traceparent", value: own.value)) }
        do {
            let response = try await inner.send(forwarded)
            span.attributes["http.response.status_code"] = response.status
            return response
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }
}
