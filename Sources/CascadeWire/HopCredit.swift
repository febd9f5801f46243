/// Credit of a hop-aware cascade (`HopCredits` in the bus): a part of what an event gave its
/// hops, on its way back to the event's partition. On the hops topic: keyed `credit`, produced
/// to `origin.partition`, marked by the header `cascade-credit`.
public struct HopCredit: Codable, Sendable, Hashable {
    /// The event the credit belongs to: its partition of the events topic, its offset, and the
    /// ticket of the attempt (an event resolved again after a takeover gives new credit).
    public struct Origin: Codable, Sendable, Hashable {
        public var partition: Int32
        public var offset: Int64
        public var ticket: UInt64

        public init(partition: Int32, offset: Int64, ticket: UInt64) {
            self.partition = partition
            self.offset = offset
            self.ticket = ticket
        }
    }

    public var origin: Origin
    public var credit: UInt64

    public init(origin: Origin, credit: UInt64) {
        self.origin = origin
        self.credit = credit
    }

    /// The header that tells a credit from a hop on the hops topic.
    public static let header = "cascade-credit"

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> HopCredit {
        try WireJSON.decode(HopCredit.self, bytes)
    }
}
