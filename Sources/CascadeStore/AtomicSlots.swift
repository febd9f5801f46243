import Synchronization

/// A fixed number of atomics side by side, for tables of counters (`Atomic` cannot be copied,
/// so it cannot live in an `Array`).
// @unchecked Sendable: the slots are allocated once, never move, and are touched only through atomic operations.
final class AtomicSlots<Value: AtomicRepresentable>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Atomic<Value>>
    let count: Int

    init(count: Int, initial: Value) {
        self.count = count
        slots = .allocate(capacity: count)
        for index in 0..<count { (slots + index).initialize(to: Atomic(initial)) }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// The atomic at `index`, which must be below `count`.
    @inline(__always)
    subscript(index: Int) -> Atomic<Value> {
        unsafeAddress { UnsafePointer(slots + index) }
    }
}
