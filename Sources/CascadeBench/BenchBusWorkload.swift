import CascadeWire

/// The event stream and the registrations of `cascade bench bus`, built once so that the bus
/// and the pass-through see the same bytes in the same order.
struct BenchBusWorkload: Sendable {
    struct Event: Sendable {
        var key: [UInt8]
        var value: [UInt8]
        /// What the bytes say, for re-encoding in a source format (`--source-kind`).
        var entity: String
        var id: String
        var version: UInt64
        var attr: (name: String, value: String)
    }

    let events: [Event]
    let registrations: [Registration]
    /// Sent first, outside the measurement, to know the consumer has joined and is reading.
    let warmUp: Event

    static let products = 20_000
    static let users = 10_000

    /// `keys` order summaries (order-service), each depending on a product, its own order and
    /// a user profile, so Product, Order and User events reach registered keys across services.
    init(events count: Int, keys: Int) {
        registrations = (0..<keys).map { n in
            Registration(
                service: "order-service", key: "order:o-\(n):summary",
                deps: ["Product#p-\(n % Self.products)", "Order#o-\(n)", "user-service/user:u-\(n % Self.users):profile"],
                setAtMillis: 0)
        }
        var events: [Event] = []
        events.reserveCapacity(count)
        let orders = max(1, keys)
        // Mix: 70% Product, 20% Order, 10% User; each instance's version grows along the stream.
        for index in 0..<count {
            let slot = index % 10
            let entity: String
            let id: String
            let attr: (String, String)
            let round = index / 10
            switch slot {
            case 0..<7:
                let n = (round * 7 + slot) % Self.products
                (entity, id, attr) = ("Product", "p-\(n)", ("category", "c\(n % 50)"))
            case 7, 8:
                let n = (round * 2 + slot - 7) % orders
                (entity, id, attr) = ("Order", "o-\(n)", ("userId", "u-\(n % Self.users)"))
            default:
                let n = round % Self.users
                (entity, id, attr) = ("User", "u-\(n)", ("country", "k\(n % 30)"))
            }
            events.append(Self.event(entity: entity, id: id, version: UInt64(index + 1), attr: attr, eventID: "e-\(index)"))
        }
        self.events = events
        warmUp = Self.event(entity: "Product", id: "warm-up", version: 1, attr: ("category", "warm"), eventID: "warm-up")
    }

    static func event(entity: String, id: String, version: UInt64, attr: (String, String), eventID: String) -> Event {
        let attrs = "\"\(attr.0)\":\"\(attr.1)\""
        // Versions are the stream position: unique per instance and growing, so no event is late.
        let json = "{\"entity\":\"\(entity)\",\"id\":\"\(id)\",\"op\":\"update\",\"version\":\(version),"
            + "\"origin\":\"bench\",\"at\":\"2026-11-25T16:00:00.123Z\",\"attrs\":{\(attrs)},\"event_id\":\"\(eventID)\"}"
        return Event(
            key: Array("\(entity)#\(id)".utf8), value: Array(json.utf8), entity: entity, id: id, version: version, attr: attr)
    }
}
