extension Array {
    /// Makes room for `extra` more elements, growing by half where appending would double: the
    /// index's arrays of one entry per name are its biggest, and doubled they hold up to twice
    /// what they use. Still geometric, so appending stays amortised constant time (each
    /// element copied twice on average, against once when doubling).
    mutating func reserveGently(_ extra: Int) {
        let needed = count + extra
        guard needed > capacity else { return }
        reserveCapacity(Swift.max(needed, capacity + capacity / 2))
    }
}
