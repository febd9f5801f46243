/// Credit of a hop-aware cascade (`HopCredits` in the bus): a part of what an event gave its
/// hops, on its way back to the event's partition. On the hops topic: keyed `credit`, produced
/// to `origin.partition`, marked by the header `cascade-credit`; the credits one span returns to
/// one partition go as one message, a JSON array (`encode(batch:)`, `decodeAll` reads both).
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
    /// Which piece of the credit this is (`piece(of:_:)`): the same for a hop consumed again
    /// after a crash, so its owner counts a piece once, however often it comes back.
    public var piece: UInt64

    public init(origin: Origin, credit: UInt64, piece: UInt64) {
        self.origin = origin
        self.credit = credit
        self.piece = piece
    }

    /// The id of part `index` of the piece `parent` (a ticket, or a hop's piece): stable across
    /// processes and attempts, since a hop's closure lists its hops in the same order.
    public static func piece(of parent: UInt64, _ index: Int) -> UInt64 {
        var hash = (parent ^ 0x9e37_79b9_7f4a_7c15) &+ UInt64(index) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }

    /// The header that tells a credit from a hop on the hops topic.
    public static let header = "cascade-credit"

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> HopCredit {
        try WireJSON.decode(HopCredit.self, bytes)
    }

    public static func encode(batch: [HopCredit]) -> [UInt8] { WireJSON.encode(batch) }

    /// The credits of one message: a batch (an array) or one credit.
    public static func decodeAll(_ bytes: [UInt8]) throws -> [HopCredit] {
        guard WireJSON.isArray(bytes) else { return [try decode(bytes)] }
        return try WireJSON.decode([HopCredit].self, bytes)
    }

    /// `credits` grouped by the partition they go back to, in the order first seen: one
    /// message each.
    public static func batches(_ credits: [HopCredit]) -> [[HopCredit]] {
        var batches: [[HopCredit]] = []
        for credit in credits {
            if let index = batches.firstIndex(where: { $0[0].origin.partition == credit.origin.partition }) {
                batches[index].append(credit)
            } else {
                batches.append([credit])
            }
        }
        return batches
    }
}
