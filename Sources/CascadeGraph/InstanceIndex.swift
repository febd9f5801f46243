import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// The bus's in-memory reverse index of instance registrations (`SET ... DEPS`), and the
/// closure of a change through it and through the graph's `bind` rules.
///
/// Thread-safe: closures run concurrently under a read lock; registrations take the write
/// lock. Replaying `cascade.deps` at start-up should use `register(contentsOf:)`, which
/// takes the lock once per batch.
// @unchecked Sendable: `state` and `revision` are read under the read lock and written under the write lock.
public final class InstanceIndex: @unchecked Sendable {
    private let lock = ReadWriteLock()
    /// At a fixed address, read in place: a closure calling into a struct stored in a class
    /// property copied it first (a retain and a release of each of its buffers per closure).
    private let state: UnsafeMutablePointer<InstanceIndexState> = {
        let state = UnsafeMutablePointer<InstanceIndexState>.allocate(capacity: 1)
        state.initialize(to: InstanceIndexState())
        return state
    }()
    /// Bumped by every change, under the write lock: a `ClosureWave` keeps its stamps only
    /// while the index stays as it was (a change may give a freed id to another name).
    private var revision: UInt64 = 0
    private let binder: TemplateBinder?
    private let scratchPool = NIOLockedValueBox<[ClosureScratch]>([])

    /// With a graph, template-bound keys join every closure and registrations the graph does
    /// not declare are marked undeclared. Without one, only registrations count.
    /// `goneKeyGraceMillis`: how long a key whose value went while nothing depended on it keeps
    /// its edges (`GraceQueue`); 0 ends them with the value.
    public init(graph: CacheGraph? = nil, goneKeyGraceMillis: Int64 = 0) {
        binder = graph.map(TemplateBinder.init)
        state.pointee.goneKeyGraceMillis = goneKeyGraceMillis
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    public struct RegistrationOutcome: Sendable, Hashable {
        /// Dependencies the graph does not declare for this key; kept, and flagged.
        public var undeclared: [Dependency]
        /// `DEPS` texts of a `Registration` that could not be parsed; skipped.
        public var rejected: [String]
    }

    /// Registers (or replaces) what `key` was computed from. With an owner, a registration
    /// older than one that node already made for the key is ignored (see `RegistrationOwner`).
    @discardableResult
    public func register(_ key: CacheKeyRef, dependencies: [Dependency], owner: RegistrationOwner? = nil) -> RegistrationOutcome {
        let undeclared = lock.withWriteLock {
            revision &+= 1
            return state.pointee.register(key, dependencies: dependencies, owner: owner, binder: binder)
        }
        return RegistrationOutcome(undeclared: undeclared, rejected: [])
    }

    /// One change read from `cascade.deps`: a registration, or a tombstone.
    public enum Change: Sendable {
        case register(CacheKeyRef, dependencies: [Dependency], owner: RegistrationOwner?)
        case unregister(CacheKeyRef, owner: RegistrationOwner?)
    }

    /// Applies changes in order under one lock (replaying `cascade.deps`); returns how many
    /// dependencies were undeclared.
    @discardableResult
    public func apply(_ changes: [Change]) -> Int {
        lock.withWriteLock {
            revision &+= 1
            var undeclared = 0
            for change in changes {
                switch change {
                case .register(let key, let dependencies, let owner):
                    undeclared += state.pointee.register(key, dependencies: dependencies, owner: owner, binder: binder).count
                case .unregister(let key, let owner):
                    _ = state.pointee.unregister(key, owner: owner)
                }
            }
            return undeclared
        }
    }

    /// Applies a batch of `cascade.deps` read as bytes (`Registration.spell`), in order, under
    /// one lock; returns how many dependencies were undeclared.
    @discardableResult
    public func apply(_ batch: SpelledRegistrations, nowMillis: Int64 = 0) -> Int {
        lock.withWriteLock {
            revision &+= 1
            var undeclared = 0
            for item in batch.items {
                if item.isTombstone {
                    _ = state.pointee.unregister(SpelledItem(batch: batch, item: item), nowMillis: nowMillis)
                } else {
                    state.pointee.register(SpelledItem(batch: batch, item: item), binder: binder) { _ in undeclared += 1 }
                }
            }
            return undeclared
        }
    }

    /// Registers a message from `cascade.deps`.
    @discardableResult
    public func register(_ registration: Registration) -> RegistrationOutcome {
        var dependencies: [Dependency] = []
        var rejected: [String] = []
        for text in registration.deps {
            do {
                dependencies.append(try Dependency.parse(text, service: registration.service))
            } catch {
                rejected.append(text)
            }
        }
        var outcome = register(
            CacheKeyRef(service: registration.service, key: registration.key), dependencies: dependencies, owner: registration.owner)
        outcome.rejected = rejected
        return outcome
    }

    /// Registers many keys under one lock; returns how many dependencies were undeclared.
    @discardableResult
    public func register(contentsOf batch: [(key: CacheKeyRef, dependencies: [Dependency])]) -> Int {
        lock.withWriteLock {
            revision &+= 1
            var undeclared = 0
            for (key, dependencies) in batch { undeclared += registerLocked(key, dependencies).count }
            return undeclared
        }
    }

    private func registerLocked(_ key: CacheKeyRef, _ dependencies: [Dependency]) -> [Dependency] {
        state.pointee.register(key, dependencies: dependencies, binder: binder)
    }

    /// Forgets a key (a tombstone on `cascade.deps`); false when no registration ended. With
    /// an owner, only a registration of that node at most as new as the tombstone ends.
    /// `wentAtMillis`: when the value went; with a grace, a key nothing depends on keeps its
    /// edges until `endGraces` finds the grace over.
    @discardableResult
    public func unregister(_ key: CacheKeyRef, owner: RegistrationOwner? = nil, wentAtMillis: Int64 = 0, nowMillis: Int64 = 0) -> Bool {
        lock.withWriteLock {
            revision &+= 1
            return state.pointee.unregister(
                RegistrationValues(key: key, dependencies: [], owner: owner, wentAtMillis: wentAtMillis), nowMillis: nowMillis)
        }
    }

    /// Keys whose value went and whose edges wait for their grace to end.
    public var gracedKeys: Int { lock.withReadLock { state.pointee.gracedKeys } }

    /// Ends the graces over by `nowMillis`: each such key goes, with what only it kept, unless a
    /// value registered on it meanwhile (it then goes with its last dependent). Returns how
    /// many went.
    @discardableResult
    public func endGraces(nowMillis: Int64) -> Int {
        lock.withWriteLock {
            let released = state.pointee.endGraces(nowMillis: nowMillis)
            if released > 0 { revision &+= 1 }
            return released
        }
    }

    /// Every key a change to this entity instance invalidates. `attrs` fill `attrs.*` bindings.
    public func closure(of ref: EntityRef, attrs: [String: String] = [:]) -> InstanceClosure {
        closure(from: .entity(entity: ref.entity, id: ref.id, attrs: attrs, name: ref.description))
    }

    /// The closure of an event. `whileLocked` sees it before any registration can change the
    /// index again: what it records is visible to whoever registers next (the bus remembers
    /// the keys it invalidated there, for the registration race check). `ref`: the event's
    /// `Entity#id` (`event.ref.description`) when the caller has it already, to spare a copy.
    public func closure(
        of event: DomainEvent, ref: String? = nil, whileLocked: (InstanceClosure) -> Void = { _ in }
    ) -> InstanceClosure {
        let root = InstanceIndexState.ClosureRoot.entity(
            entity: event.ref.entity, id: event.ref.id, attrs: event.attrs, name: ref ?? event.ref.description)
        return closure(from: root, whileLocked: whileLocked)
    }

    /// Every key that depends, transitively, on a key that was dropped or changed.
    public func closure(ofKey key: CacheKeyRef, whileLocked: (InstanceClosure) -> Void = { _ in }) -> InstanceClosure {
        closure(from: .key(service: key.service, key: key.key), whileLocked: whileLocked)
    }

    private func closure(
        from root: InstanceIndexState.ClosureRoot, whileLocked: (InstanceClosure) -> Void = { _ in }
    ) -> InstanceClosure {
        var scratch = takeScratch()
        let result = closure(from: root, scratch: &scratch, inWave: false, whileLocked: whileLocked)
        recycle(consume scratch)
        return result
    }

    /// A closure with `scratch`; `inWave`: in the scratch's open wave (`ClosureWave`), whose
    /// keys it neither expands nor lists again, if the index has not changed since.
    func closure(
        from root: InstanceIndexState.ClosureRoot, scratch: inout ClosureScratch, inWave: Bool, whileLocked: (InstanceClosure) -> Void
    ) -> InstanceClosure {
        lock.withReadLock {
            scratch.prepare(capacity: state.pointee.names.capacity, wave: inWave ? revision : nil)
            let closure = state.pointee.closure(from: root, binder: binder, scratch: &scratch)
            whileLocked(closure)
            return closure
        }
    }

    /// Whether the scratch's open wave reached `key` (and the index is as it was then).
    func reached(_ key: CacheKeyRef, scratch: borrowing ClosureScratch) -> Bool {
        var name = key.description
        return lock.withReadLock {
            guard let wave = scratch.wave, wave == revision else { return false }
            return name.withUTF8 { bytes in
                if let id = state.pointee.names.find(bytes) { return scratch.entries.hasReached(id) }
                return scratch.entries.hasReached(unregistered: bytes)
            }
        }
    }

    func takeScratch() -> ClosureScratch {
        scratchPool.withLockedValue { $0.popLast() } ?? ClosureScratch()
    }

    /// Takes the scratch back for the next closure; moved, not copied (a copy retains and
    /// releases each of its buffers).
    func recycle(_ scratch: consuming ClosureScratch) {
        var handed: ClosureScratch? = consume scratch
        scratchPool.withLockedValue { $0.append(handed.take()!) }
    }

    /// What replacing a key's edges in one partition changed beyond them.
    public struct EdgeReplacement: Sendable {
        /// The dependencies in the partition this key was the last dependent of.
        public var orphaned: [String]
        /// Families whose keys became dependencies for the first time in this index (`HopFilter`).
        public var newlyDependedOnFamilies: [UInt32]
    }

    /// A record of the edges topic: the edges of `key` into `partition` become `dependencies`
    /// (none: the key has no edge there any more). See `IndexShare`.
    @discardableResult
    public func replaceEdges(
        of key: CacheKeyRef, inPartition partition: Int32, with dependencies: [Dependency], partitioner: StatePartitioner
    ) -> EdgeReplacement {
        lock.withWriteLock {
            revision &+= 1
            let orphaned = state.pointee.replaceEdges(of: key, inPartition: partition, with: dependencies, partitioner: partitioner, binder: binder)
            defer { state.pointee.newlyDependedOn.removeAll() }
            return EdgeReplacement(orphaned: orphaned, newlyDependedOnFamilies: state.pointee.newlyDependedOn)
        }
    }

    /// Forgets every edge whose dependency lies in `partition`.
    public func dropPartition(_ partition: Int32, partitioner: StatePartitioner) {
        lock.withWriteLock {
            revision &+= 1
            state.pointee.dropPartition(partition, partitioner: partitioner)
        }
    }

    /// What a key another partition's share reached leads to here: its registered dependents
    /// held here and everything they reach, not the keys it binds (its sender listed those),
    /// nor what `skipping` holds the `StableNameHash` of (reached already).
    public func closure(
        ofHop name: String, skipping: Set<UInt64>, whileLocked: (InstanceClosure) -> Void = { _ in }
    ) -> InstanceClosure {
        closure(from: .hop(name: name, skip: skipping), whileLocked: whileLocked)
    }

    /// The tags a key is registered with (`Entity#id`, `service/key`), nil when not registered.
    public func dependencies(of key: CacheKeyRef) -> [String]? {
        lock.withReadLock {
            guard let id = state.pointee.find(key.description), !state.pointee.dependencies[Int(id)].isEmpty else { return nil }
            return state.pointee.dependencies[Int(id)].map { state.pointee.names.name(of: $0 & InstanceIndexState.idMask) }
        }
    }

    /// The keys registered directly under a tag.
    public func dependents(of tag: String) -> [String] {
        lock.withReadLock {
            guard let id = state.pointee.find(tag) else { return [] }
            return state.pointee.withDependents(of: id) { $0.map { state.pointee.names.name(of: $0 & InstanceIndexState.idMask) } }
        }
    }

    public struct Statistics: Sendable, Hashable, Codable {
        public var registeredKeys: Int
        /// Keys and entity instances known to the index.
        public var names: Int
        public var edges: Int
        public var undeclaredEdges: Int
        /// The index's own structures, without allocator overhead.
        public var approximateBytes: Int
    }

    /// Registered keys, without the walk `statistics` makes for the footprint: cheap enough
    /// for every beacon.
    public var registeredKeys: Int { lock.withReadLock { state.pointee.registeredKeys } }

    public var statistics: Statistics {
        lock.withReadLock {
            Statistics(
                registeredKeys: state.pointee.registeredKeys, names: state.pointee.names.liveCount, edges: state.pointee.edgeCount,
                undeclaredEdges: state.pointee.undeclaredEdgeCount, approximateBytes: state.pointee.footprint)
        }
    }
}
