/// A cascade handed to the partition that holds a key's registered dependents, on the hops topic:
/// keyed by that key (`name`), produced to its partition. What a receiving share needs to go on:
/// the root (the event, to remember per root what it expanded), the root's fence (the entity at
/// its version, which the invalidations it causes carry), the key's depth and path from the root,
/// and the `StableNameHash`es of what the shares before named for the root.
public struct HopMessage: Codable, Sendable, Hashable {
    /// `Entity#id@version` and the event's source position: one event, once.
    public var root: String
    public var name: String
    public var fenceEntity: String
    public var fenceID: String
    public var fenceVersion: UInt64
    public var depth: Int
    public var path: [String]
    public var skip: [UInt64]

    public init(
        root: String, name: String, fenceEntity: String, fenceID: String, fenceVersion: UInt64, depth: Int, path: [String], skip: [UInt64]
    ) {
        self.root = root
        self.name = name
        self.fenceEntity = fenceEntity
        self.fenceID = fenceID
        self.fenceVersion = fenceVersion
        self.depth = depth
        self.path = path
        self.skip = skip
    }

    enum CodingKeys: String, CodingKey {
        case root, name, fenceEntity = "fence_entity", fenceID = "fence_id", fenceVersion = "fence_version", depth, path, skip
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> HopMessage {
        try WireJSON.decode(HopMessage.self, bytes)
    }
}
