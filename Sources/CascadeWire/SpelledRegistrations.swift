/// Registrations and tombstones as the bus's index reads them: every name spelled as the index
/// files it (`service/key`, `Entity#id`), back to back in one buffer, with no String per name.
/// A batch of `cascade.deps` is read into one (`Registration.spell`, or `append` for what came
/// as a `Registration`) and applied to the index under one lock.
public struct SpelledRegistrations: Sendable, Equatable {
    /// Where a name lies in `bytes`, and where its separator is: the `/` after the service, or
    /// the `#` after the entity (an offset from `start`).
    public struct Name: Sendable, Equatable {
        public var start: Int32
        public var length: Int32
        public var separator: Int32
    }

    /// One dependency: its tag, and whether it names an entity instance or a key.
    public struct Dependency: Sendable, Equatable {
        public var name: Name
        public var isEntity: Bool
    }

    /// A registration, or a tombstone (no dependencies), with its owner when it has one.
    public struct Item: Sendable, Equatable {
        public var key: Name
        public var isTombstone: Bool
        /// Its dependencies: `dependencies[firstDependency ..< firstDependency + dependencyCount]`.
        public var firstDependency: Int32
        public var dependencyCount: Int32
        /// The owner's node name; nil for a registration without an owner.
        public var node: Name?
        public var incarnation: UInt64
        /// A tombstone's time (its message's), when the value went; 0 when not known.
        public var wentAtMillis: Int64 = 0

        public var dependencyRange: Range<Int> { Int(firstDependency)..<Int(firstDependency + dependencyCount) }
    }

    public private(set) var bytes: [UInt8] = []
    public private(set) var items: [Item] = []
    public private(set) var dependencies: [Dependency] = []
    /// Where the dependencies of the registration being read lie in its message (`spell`).
    var scratchRanges: [Range<Int>] = []

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.bytes == b.bytes && a.items == b.items && a.dependencies == b.dependencies
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        items.removeAll(keepingCapacity: true)
        dependencies.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with the bytes of `name`. Inlinable, as the index reads every name
    /// through it from another module.
    @inlinable
    public func withBytes<R>(of name: Name, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(name.start)..<Int(name.start + name.length)])) }
    }

    /// Calls `body` with the bytes before `name`'s separator (the service or the entity).
    @inlinable
    public func withHead<R>(of name: Name, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(name.start)..<Int(name.start + name.separator)])) }
    }

    /// The text of `name`, for the API edge.
    public func text(of name: Name) -> String { withBytes(of: name) { String(decoding: $0, as: UTF8.self) } }

    /// A registration already read, its dependencies parsed as `Dependency.parse` does; those
    /// it rejects are left out.
    public mutating func append(_ registration: Registration) {
        append(
            CacheKeyRef(service: registration.service, key: registration.key), dependencies: registration.parsedDependencies,
            owner: registration.owner)
    }

    /// A tombstone of `key`, ending the registration of `owner` (or whatever is registered),
    /// written at `wentAtMillis`.
    public mutating func appendTombstone(_ key: CacheKeyRef, owner: RegistrationOwner?, wentAtMillis: Int64 = 0) {
        items.append(Item(
            key: spell(head: key.service.utf8, separator: "/", tail: key.key.utf8), isTombstone: true,
            firstDependency: Int32(truncatingIfNeeded: dependencies.count), dependencyCount: 0,
            node: owner.map { spell($0.node.utf8) }, incarnation: owner?.incarnation ?? 0, wentAtMillis: wentAtMillis))
    }

    /// A registration of `key` on `dependencies`, for callers that hold them parsed already.
    public mutating func append(_ key: CacheKeyRef, dependencies parsed: [CascadeWire.Dependency], owner: RegistrationOwner?) {
        let first = Int32(truncatingIfNeeded: dependencies.count)
        for dependency in parsed {
            switch dependency {
            case .entity(let ref, _): dependencies.append(Dependency(name: spell(head: ref.entity.utf8, separator: "#", tail: ref.id.utf8), isEntity: true))
            case .key(let ref): dependencies.append(Dependency(name: spell(head: ref.service.utf8, separator: "/", tail: ref.key.utf8), isEntity: false))
            }
        }
        items.append(Item(
            key: spell(head: key.service.utf8, separator: "/", tail: key.key.utf8), isTombstone: false, firstDependency: first,
            dependencyCount: Int32(truncatingIfNeeded: parsed.count), node: owner.map { spell($0.node.utf8) },
            incarnation: owner?.incarnation ?? 0))
    }

    // Spelling, for the byte reader (`Registration.spell`).

    /// Appends `head`, the separator and `tail` as one name.
    mutating func spell(head: some Collection<UInt8>, separator: Unicode.Scalar, tail: some Collection<UInt8>) -> Name {
        let start = Int32(truncatingIfNeeded: bytes.count)
        bytes.append(contentsOf: head)
        let split = Int32(truncatingIfNeeded: bytes.count) - start
        bytes.append(UInt8(ascii: separator))
        bytes.append(contentsOf: tail)
        return Name(start: start, length: Int32(truncatingIfNeeded: bytes.count) - start, separator: split)
    }

    /// Appends `text` as a name without a separator (a node's name).
    mutating func spell(_ text: some Collection<UInt8>) -> Name {
        let start = Int32(truncatingIfNeeded: bytes.count)
        bytes.append(contentsOf: text)
        return Name(start: start, length: Int32(truncatingIfNeeded: bytes.count) - start, separator: 0)
    }

    mutating func appendDependency(_ dependency: Dependency) { dependencies.append(dependency) }
    mutating func appendItem(_ item: Item) { items.append(item) }
}
