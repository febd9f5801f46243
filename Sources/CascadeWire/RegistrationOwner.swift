/// Which stored value a registration or a tombstone on `cascade.deps` is about: the node
/// process that holds it (an id drawn at start, so replicas and restarts never compare) and an
/// incarnation that grows with every value that node stores under dependencies.
///
/// Nodes publish a registration when a value is stored and a tombstone when it is gone; the
/// two can reach the bus in either order, and the tombstone of an old value must not erase
/// the registration of a newer one. The bus therefore drops a registration only for a
/// tombstone from the same node with an incarnation at least as high. A tombstone carries its
/// owner in headers, since its value must stay null for compaction.
public struct RegistrationOwner: Sendable, Hashable {
    public var node: String
    public var incarnation: UInt64

    public init(node: String, incarnation: UInt64) {
        self.node = node
        self.incarnation = incarnation
    }

    public static let nodeHeader = "cascade-node"
    public static let incarnationHeader = "cascade-inc"
}
