import CascadeKafka
import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// The independent truth: an in-memory database of products with versions. Versions are
/// ordered per product under one lock, and the time each version was superseded is kept so a
/// read can be judged against the moment its value stopped being true.
final class ChaosTruth: Sendable {
    let products: Int
    private let state: NIOLockedValueBox<State>

    private struct State {
        /// Current version per product; every product starts at 1.
        var versions: [UInt64]
        /// `superseded[p][v - 1]`: when version v of product p was replaced by v + 1.
        var superseded: [[UInt64]]
    }

    init(products: Int) {
        self.products = products
        state = NIOLockedValueBox(State(versions: Array(repeating: 1, count: products), superseded: Array(repeating: [], count: products)))
    }

    static func id(_ product: Int) -> String { "p-\(product)" }

    func version(_ product: Int) -> UInt64 { state.withLockedValue { $0.versions[product] } }

    /// Writes a new version; returns it.
    func bump(_ product: Int) -> UInt64 {
        let now = chaosNow()
        return state.withLockedValue { state in
            state.superseded[product].append(now)
            state.versions[product] += 1
            return state.versions[product]
        }
    }

    /// When `version` of `product` stopped being the truth, or nil while it still is.
    func supersededAt(_ product: Int, version: UInt64) -> UInt64? {
        state.withLockedValue { state in
            guard version >= 1, Int(version) <= state.superseded[product].count else { return nil }
            return state.superseded[product][Int(version) - 1]
        }
    }

    var writes: Int { state.withLockedValue { $0.superseded.reduce(0) { $0 + $1.count } } }
}

/// Writers: paced (a fixed interval each, not bursts), each bumping a random product in the
/// truth and then publishing its event, so two writers sometimes race on one product.
struct ChaosWriters {
    let truth: ChaosTruth
    let producer: KafkaProducer
    let topics: Topics
    let writesPerSecond: Int
    let writers = 2

    /// Writes until `deadline`.
    func run(until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask { await self.write(writer: writer, until: deadline) }
            }
        }
    }

    private func write(writer: Int, until deadline: ContinuousClock.Instant) async {
        let interval = Duration.seconds(Double(writers) / Double(max(1, writesPerSecond)))
        // Writers interleave: the second starts half an interval after the first.
        var next = ContinuousClock.now + interval * Double(writer) / Double(writers)
        var generator = SystemRandomNumberGenerator()
        while next < deadline {
            try? await Task.sleep(until: next, clock: .continuous)
            next += interval
            let product = Int.random(in: 0..<truth.products, using: &generator)
            let version = truth.bump(product)
            await publish(product: product, version: version)
        }
    }

    func publish(product: Int, version: UInt64) async {
        let event = DomainEvent(
            ref: EntityRef(entity: "Product", id: ChaosTruth.id(product)), op: .update, version: version, origin: "bench",
            atMillis: Int64(Date().timeIntervalSince1970 * 1000), eventID: UUID().uuidString.lowercased())
        // Enqueued, not awaited: while the broker is down the events wait in the producer's queue
        // and the pace holds.
        try? await producer.produce(
            topic: topics.events, key: Array(event.kafkaKey.utf8), value: JSONEventEncoder.encode(event), token: 0)
    }
}
