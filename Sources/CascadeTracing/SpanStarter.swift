import Synchronization
import Tracing

/// Starts Cascade's spans with the tracer `--otlp-endpoint` built, and carries their context
/// on as a traceparent. Sampling is decided here, before the tracer is asked: work caused by a
/// sampled traceparent is always recorded, work with none at `samplingRatio`, work whose
/// caller chose not to record is not. An unsampled event thus costs one draw (`SamplingDraws`)
/// and no span; with tracing off there is no `SpanStarter` at all.
public struct SpanStarter: Sendable {
    public let tracer: any Tracer
    public let samplingRatio: Double
    private let draws = SamplingDraws()

    public init(tracer: any Tracer, samplingRatio: Double = 1) {
        self.tracer = tracer
        self.samplingRatio = min(1, max(0, samplingRatio))
    }

    /// A span named `name`, a child of `parent` when there is one; nil when not sampled.
    public func start(_ name: String, kind: SpanKind = .internal, parent: Traceparent?) -> (any Span)? {
        if let parent {
            guard parent.sampled else { return nil }
        } else if samplingRatio < 1 && !(samplingRatio > 0 && draws.next() < samplingRatio) {
            return nil
        }
        var context = InstrumentationContext.topLevel
        if let parent { tracer.extract(parent, into: &context, using: TraceparentExtractor()) }
        return tracer.startSpan(name, context: context, ofKind: kind)
    }

    /// The traceparent that makes what `span` causes its children.
    public func traceparent(of span: any Span) -> Traceparent? {
        var carrier: Traceparent?
        tracer.inject(span.context, into: &carrier, using: TraceparentInjector())
        return carrier
    }
}

/// Sampling draws without a system call: a shared counter mixed by splitmix64. Swift's default
/// generator asks the kernel for every number (about a microsecond), which at 1% sampling cost
/// every event a tenth of its resolution.
final class SamplingDraws: Sendable {
    private let counter: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        counter = Atomic(seed)
    }

    /// Uniform in [0, 1).
    func next() -> Double {
        var z = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) * 0x1p-53
    }
}

/// Hands the tracer's propagator the one header it reads from a traceparent.
struct TraceparentExtractor: Extractor {
    func extract(key: String, from carrier: Traceparent) -> String? {
        key == "traceparent" ? carrier.value : nil
    }
}

/// Keeps the traceparent a tracer's propagator writes; other headers (tracestate) are not carried.
struct TraceparentInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Traceparent?) {
        if key == "traceparent" { carrier = Traceparent(value) }
    }
}
