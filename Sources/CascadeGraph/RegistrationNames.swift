import CascadeWire

/// One registration or tombstone as the index reads it: the names of its key, its dependencies
/// and its owner's node, as bytes spelled as the index files them (`service/key`, `Entity#id`).
/// Two kinds: an item of a batch read from `cascade.deps` as bytes, and one given as values.
protocol RegistrationNames {
    func withKey<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R
    /// The key as values when its service holds a `/`: then its name does not say where the
    /// service ends.
    var keyWithSlashInService: CacheKeyRef? { get }
    var dependencyCount: Int { get }
    func withDependency<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R
    /// The entity of dependency `index`, nil when it is a key.
    func withEntity<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R?
    /// Dependency `index` as values when it is a key whose service holds a `/`.
    func dependencyWithSlashInService(_ index: Int) -> CacheKeyRef?
    /// Nil for a registration without an owner.
    func withOwnerNode<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R?
    var incarnation: UInt64 { get }
    /// A tombstone's time, when the value went; 0 when not known.
    var wentAtMillis: Int64 { get }
}

/// Item `item` of a batch read as bytes.
struct SpelledItem: RegistrationNames {
    let batch: SpelledRegistrations
    let item: SpelledRegistrations.Item

    func withKey<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { batch.withBytes(of: item.key, body) }

    var keyWithSlashInService: CacheKeyRef? { withSlashInService(item.key) }

    var dependencyCount: Int { Int(item.dependencyCount) }

    func withDependency<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        batch.withBytes(of: batch.dependencies[Int(item.firstDependency) + index].name, body)
    }

    func withEntity<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        let dependency = batch.dependencies[Int(item.firstDependency) + index]
        return dependency.isEntity ? batch.withHead(of: dependency.name, body) : nil
    }

    func dependencyWithSlashInService(_ index: Int) -> CacheKeyRef? {
        let dependency = batch.dependencies[Int(item.firstDependency) + index]
        return dependency.isEntity ? nil : withSlashInService(dependency.name)
    }

    func withOwnerNode<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? { item.node.map { batch.withBytes(of: $0, body) } }

    var incarnation: UInt64 { item.incarnation }

    var wentAtMillis: Int64 { item.wentAtMillis }

    private func withSlashInService(_ name: SpelledRegistrations.Name) -> CacheKeyRef? {
        guard batch.withHead(of: name, { $0.contains(UInt8(ascii: "/")) }) else { return nil }
        let text = batch.text(of: name)
        let separator = text.utf8.index(text.utf8.startIndex, offsetBy: Int(name.separator))
        return CacheKeyRef(service: String(text[..<separator]), key: String(text[text.utf8.index(after: separator)...]))
    }
}

/// A registration (or, without dependencies, a tombstone) given as values; each name is spelled
/// on the stack when read.
struct RegistrationValues: RegistrationNames {
    let key: CacheKeyRef
    let dependencies: [Dependency]
    let owner: RegistrationOwner?
    var wentAtMillis: Int64 = 0

    func withKey<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { Self.spell(key.service, "/", key.key, body) }

    var keyWithSlashInService: CacheKeyRef? { key.service.utf8.contains(UInt8(ascii: "/")) ? key : nil }

    var dependencyCount: Int { dependencies.count }

    func withDependency<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch dependencies[index] {
        case .entity(let ref, _): Self.spell(ref.entity, "#", ref.id, body)
        case .key(let ref): Self.spell(ref.service, "/", ref.key, body)
        }
    }

    func withEntity<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard case .entity(let ref, _) = dependencies[index] else { return nil }
        var entity = ref.entity
        return entity.withUTF8(body)
    }

    func dependencyWithSlashInService(_ index: Int) -> CacheKeyRef? {
        guard case .key(let ref) = dependencies[index], ref.service.utf8.contains(UInt8(ascii: "/")) else { return nil }
        return ref
    }

    func withOwnerNode<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard var node = owner?.node else { return nil }
        return node.withUTF8(body)
    }

    var incarnation: UInt64 { owner?.incarnation ?? 0 }

    /// `head`, `separator` and `tail` back to back, in a buffer on the stack.
    private static func spell<R>(_ head: String, _ separator: Unicode.Scalar, _ tail: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let count = head.utf8.count + 1 + tail.utf8.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var at = buffer.initialize(from: head.utf8).1
            buffer[at] = UInt8(ascii: separator)
            at += 1
            _ = UnsafeMutableBufferPointer(rebasing: buffer[at...]).initialize(from: tail.utf8)
            return body(UnsafeBufferPointer(buffer))
        }
    }
}
