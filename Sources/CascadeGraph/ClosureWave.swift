import CascadeWire

extension InstanceIndex {
    /// Closures of many keys that share one visited set: a key reached by an earlier closure of
    /// the wave is neither expanded again nor returned again. The bus race-checks a batch of
    /// registrations as one wave, so each key is invalidated at most once per batch, and a chain
    /// of N late registrations costs N, not N²/2.
    ///
    /// Every closure of a wave takes the index's read lock on its own. If the index changed since
    /// the last one (its ids may have been reused), the wave starts over: its keys count as not
    /// reached, which repeats work but never skips a key.
    ///
    /// Its scratch comes from the index's pool and goes back when the wave ends. Not thread-safe:
    /// one wave, one task.
    public final class ClosureWave {
        private let index: InstanceIndex
        private var scratch: ClosureScratch
        private let visitsBefore: Int

        init(index: InstanceIndex, scratch: ClosureScratch) {
            self.index = index
            self.scratch = scratch
            // A scratch's stamps belong to the wave that made them.
            self.scratch.wave = nil
            visitsBefore = scratch.visits
        }

        deinit { index.recycle(scratch) }

        /// Keys looked at so far (each dependent and each bound key, whether new or not): the
        /// wave's work, at most the number of keys plus the number of edges it reached.
        public var visits: Int { scratch.visits - visitsBefore }

        /// Whether an earlier closure of this wave reached `key` (or started from it): then it
        /// and everything downstream of it were listed already.
        public func reached(_ key: CacheKeyRef) -> Bool {
            index.reached(key, scratch: scratch)
        }

        /// The keys downstream of `key` that no earlier closure of the wave reached. `whileLocked`
        /// sees them under the read lock, as `InstanceIndex.closure(ofKey:whileLocked:)`'s does.
        public func closure(ofKey key: CacheKeyRef, whileLocked: (InstanceClosure) -> Void = { _ in }) -> InstanceClosure {
            index.closure(from: .key(service: key.service, key: key.key), scratch: &scratch, inWave: true, whileLocked: whileLocked)
        }
    }

    /// Starts a wave of closures over this index.
    public func closureWave() -> ClosureWave {
        ClosureWave(index: self, scratch: takeScratch())
    }
}
