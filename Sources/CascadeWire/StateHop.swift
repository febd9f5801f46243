/// A cascade's step into another partition's share: the key whose registered dependents live
/// there (`IndexShare` in CascadeGraph), with what the receiving share needs to go on: the root
/// (to remember per root what it expanded), the root's fence (the entity at its version, which
/// the invalidations it causes carry), the key's depth and path from the root, and the
/// `StableNameHash`es of what the shares before named for the root.
///
/// On the hops topic: produced to `partition`, which is the message's place and not part of its
/// value (`decode` takes it, as `EdgeRecord.decode` does). The hops one span of events hands to
/// one partition go as one message, a JSON array of them (`HopBatch`); one hop alone (the race
/// check's) is a bare object, keyed by `name`. `decodeAll` reads both.
public struct StateHop: Codable, Sendable, Hashable {
    /// The root event, as the bus names it (`Entity#id@version` and its source position): the
    /// unit of "each key at most once".
    public var root: String
    /// `service/key`, or `Entity#id` when the event itself lies in another share.
    public var name: String
    public var partition: Int32
    public var fence: EntityRef
    public var fenceVersion: UInt64
    /// Of `name`, from the root change.
    public var depth: Int
    /// From the root to `name`, both included.
    public var path: [String]
    /// What the shares before named for this root: reached, not to list again.
    public var skip: [UInt64]
    /// The root event's id and `at` time, for the cause the invalidations carry ("" and 0 for a
    /// hop of the race check, whose root is a stale registration).
    public var eventID = ""
    public var atMillis: Int64 = 0
    /// The root event's partition, offset and ticket, and this hop's part of its credit
    /// (`HopCredit`): nil for a hop of the race check, which no event waits for.
    public var origin: HopCredit.Origin?
    public var credit: UInt64 = 0
    public var piece: UInt64 = 0

    public init(
        root: String, name: String, partition: Int32, fence: EntityRef, fenceVersion: UInt64, depth: Int, path: [String], skip: [UInt64]
    ) {
        self.root = root
        self.name = name
        self.partition = partition
        self.fence = fence
        self.fenceVersion = fenceVersion
        self.depth = depth
        self.path = path
        self.skip = skip
    }

    enum CodingKeys: String, CodingKey {
        case root, name, fenceEntity = "fence_entity", fenceID = "fence_id", fenceVersion = "fence_version", depth, path, skip
        case eventID = "event_id", atMillis = "at_ms", origin, credit, piece
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        root = try container.decode(String.self, forKey: .root)
        name = try container.decode(String.self, forKey: .name)
        partition = -1
        fence = EntityRef(
            entity: try container.decode(String.self, forKey: .fenceEntity), id: try container.decode(String.self, forKey: .fenceID))
        fenceVersion = try container.decode(UInt64.self, forKey: .fenceVersion)
        depth = try container.decode(Int.self, forKey: .depth)
        path = try container.decode([String].self, forKey: .path)
        skip = try container.decode([UInt64].self, forKey: .skip)
        eventID = try container.decodeIfPresent(String.self, forKey: .eventID) ?? ""
        atMillis = try container.decodeIfPresent(Int64.self, forKey: .atMillis) ?? 0
        origin = try container.decodeIfPresent(HopCredit.Origin.self, forKey: .origin)
        credit = try container.decodeIfPresent(UInt64.self, forKey: .credit) ?? 0
        piece = try container.decodeIfPresent(UInt64.self, forKey: .piece) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(root, forKey: .root)
        try container.encode(name, forKey: .name)
        try container.encode(fence.entity, forKey: .fenceEntity)
        try container.encode(fence.id, forKey: .fenceID)
        try container.encode(fenceVersion, forKey: .fenceVersion)
        try container.encode(depth, forKey: .depth)
        try container.encode(path, forKey: .path)
        try container.encode(skip, forKey: .skip)
        if !eventID.isEmpty { try container.encode(eventID, forKey: .eventID) }
        if atMillis != 0 { try container.encode(atMillis, forKey: .atMillis) }
        if let origin {
            try container.encode(origin, forKey: .origin)
            try container.encode(credit, forKey: .credit)
            try container.encode(piece, forKey: .piece)
        }
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    /// A hop read from `partition` of the hops topic.
    public static func decode(_ bytes: [UInt8], partition: Int32) throws -> StateHop {
        var hop = try WireJSON.decode(StateHop.self, bytes)
        hop.partition = partition
        return hop
    }

    /// The hops of one message read from `partition`: a batch (an array) or one hop.
    public static func decodeAll(_ bytes: [UInt8], partition: Int32) throws -> [StateHop] {
        guard WireJSON.isArray(bytes) else {
            return [try decode(bytes, partition: partition)]
        }
        var hops = try WireJSON.decode([StateHop].self, bytes)
        for index in hops.indices { hops[index].partition = partition }
        return hops
    }
}

/// The hops a span hands to one partition, written as one JSON array: each hop's own encoding,
/// comma-separated, so a batch is built without decoding or re-encoding anything.
public struct HopBatch: Sendable {
    public let partition: Int32
    private var bytes: [UInt8] = [UInt8(ascii: "[")]
    public private(set) var count = 0

    public init(partition: Int32) {
        self.partition = partition
    }

    /// Bytes so far, with the closing bracket.
    public var byteCount: Int { bytes.count + 1 }

    public mutating func append(encodedHop: [UInt8]) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: encodedHop)
        count += 1
    }

    public consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }
}
