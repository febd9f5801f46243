import CascadeTracing
import Foundation
import NIOConcurrencyHelpers
import Tracing

/// A tracer for tests that propagates W3C `traceparent` as an OTel tracer does and keeps every
/// span it ended, so a test sees which spans the bus started and what it carried on.
final class W3CTestTracer: Tracer {
    struct Ended: Sendable {
        var name: String
        var traceID: String
        var spanID: String
        var parentSpanID: String?
        var attributes: SpanAttributes
    }

    private let ended = NIOLockedValueBox<[Ended]>([])
    private let nextID = NIOLockedValueBox<UInt64>(1)

    var spans: [Ended] { ended.withLockedValue { $0 } }

    private enum ParentKey: InstrumentationContextKey { typealias Value = (traceID: String, spanID: String) }

    final class TestSpan: Tracing.Span {
        let context: InstrumentationContext
        let traceID: String
        let spanID: String
        let parentSpanID: String?
        private let state: NIOLockedValueBox<(name: String, attributes: SpanAttributes)>
        private let tracer: W3CTestTracer

        init(name: String, context: InstrumentationContext, traceID: String, spanID: String, parentSpanID: String?, tracer: W3CTestTracer) {
            var own = context
            own[ParentKey.self] = (traceID, spanID)
            self.context = own
            self.traceID = traceID
            self.spanID = spanID
            self.parentSpanID = parentSpanID
            self.state = NIOLockedValueBox((name, [:]))
            self.tracer = tracer
        }

        var operationName: String {
            get { state.withLockedValue { $0.name } }
            set { state.withLockedValue { $0.name = newValue } }
        }
        var attributes: SpanAttributes {
            get { state.withLockedValue { $0.attributes } }
            set { state.withLockedValue { $0.attributes = newValue } }
        }
        var isRecording: Bool { true }
        func setStatus(_ status: SpanStatus) {}
        func addEvent(_ event: SpanEvent) {}
        func addLink(_ link: SpanLink) {}
        func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {}
        func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
            let (name, attributes) = state.withLockedValue { ($0.name, $0.attributes) }
            tracer.ended.withLockedValue {
                $0.append(Ended(name: name, traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, attributes: attributes))
            }
        }
    }

    private func newID(digits: Int) -> String {
        let number = nextID.withLockedValue { value -> UInt64 in
            defer { value += 1 }
            return value
        }
        let hex = String(number, radix: 16)
        return String(repeating: "a", count: digits - hex.count) + hex
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> TestSpan {
        let context = context()
        let parent = context[ParentKey.self]
        return TestSpan(
            name: operationName, context: context, traceID: parent?.traceID ?? newID(digits: 32), spanID: newID(digits: 16),
            parentSpanID: parent?.spanID, tracer: self)
    }

    func forceFlush() {}

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier) else { return }
        let fields = header.split(separator: "-")
        guard fields.count == 4 else { return }
        context[ParentKey.self] = (String(fields[1]), String(fields[2]))
    }

    func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let own = context[ParentKey.self] else { return }
        injector.inject("00-\(own.traceID)-\(own.spanID)-01", forKey: "traceparent", into: &carrier)
    }
}
