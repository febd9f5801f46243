import CascadeKafka
import CascadeWire
import NIOCore

/// The registrations of `cascade bench rebuild`: order summaries of the example graph
/// (order-service), each depending on a product, its own order and a user profile, as in
/// `BenchBusWorkload`, published by a few nodes with growing incarnations. Registration `n`
/// is a function of `n` alone, so any range can be built on its own, in chunks.
struct BenchRebuildWorkload: Sendable {
    static let products = BenchBusWorkload.products
    static let users = BenchBusWorkload.users
    /// Node ids as `CacheNode` draws them (hex of a random UInt64), fixed for repeatable bytes.
    static let nodes = ["9f3c1a27d04e5b61", "4d82e0b7c19a3f05", "b06e47d2a8c3195f", "1c7a9e53f20d8b46"]
    /// `set_at_ms` of registration 0; later ones a millisecond apart.
    static let firstSetAtMillis: Int64 = 1_795_000_000_000

    static func registration(_ n: Int) -> Registration {
        Registration(
            service: "order-service", key: "order:o-\(n):summary",
            deps: ["Product#p-\(n % products)", "Order#o-\(n)", "user-service/user:u-\(n % users):profile"],
            setAtMillis: firstSetAtMillis + Int64(n),
            owner: RegistrationOwner(node: nodes[n % nodes.count], incarnation: UInt64(n / nodes.count + 1)))
    }

    /// Registrations `range` as the consumer hands them to the bus from `topic`: key and value
    /// of every message are slices of one buffer, values the JSON bytes nodes write.
    static func messages(_ range: Range<Int>, topic: String) -> [KafkaMessage] {
        var buffer = ByteBufferAllocator().buffer(capacity: range.count * 256)
        var spans: [(key: Range<Int>, value: Range<Int>)] = []
        spans.reserveCapacity(range.count)
        for n in range {
            let registration = registration(n)
            let keyStart = buffer.writerIndex
            buffer.writeString(registration.kafkaKey)
            let valueStart = buffer.writerIndex
            buffer.writeBytes(registration.encoded())
            spans.append((keyStart..<valueStart, valueStart..<buffer.writerIndex))
        }
        return zip(range, spans).map { n, span in
            KafkaMessage(
                topic: topic, partition: 0, offset: Int64(n),
                key: buffer.getSlice(at: span.key.lowerBound, length: span.key.count),
                value: buffer.getSlice(at: span.value.lowerBound, length: span.value.count))
        }
    }

    /// The latest versions of `count` entity instances of the example graph (products,
    /// orders, users), as the bus writes them on `cascade.ledger`.
    static func ledgerRecord(_ n: Int) -> LedgerRecord {
        let (entity, id, origin): (String, String, String) = switch n % 3 {
        case 0: ("Product", "p-\(n / 3)", "product-service")
        case 1: ("Order", "o-\(n / 3)", "order-service")
        default: ("User", "u-\(n / 3)", "user-service")
        }
        return LedgerRecord(
            entity: entity, id: id, version: UInt64(n % 97 + 1), origin: origin, atMillis: firstSetAtMillis + Int64(n),
            eventID: "e-\(n)", digest: UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
    }
}
