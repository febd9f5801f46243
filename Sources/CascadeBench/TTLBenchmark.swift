import CascadeCache
import CascadeGraph
import CascadeStore
import CascadeWire
import Foundation

/// `cascade bench ttl`: replays one skewed read workload with changes against the real store,
/// once per fixed TTL and once with adaptive TTLs, and reports hit ratio and stale reads.
///
/// Four families of 1,000 keys each: two covered by invalidations (a change removes the key at
/// once, as the bus would), two covered only by their TTL (a change leaves the cached value
/// stale until it expires); in each pair one changes rarely and one often. Reads pick keys by a
/// Zipf law over all 4,000 keys; a miss reads "the source" (the key's current version) and
/// stores it, with `EX` for a fixed TTL and without one for adaptive (the family's learned TTL
/// applies). Time is simulated: a run of hours takes seconds.
public struct TTLBenchmark: Sendable {
    public struct FamilySpec: Sendable {
        public var name: String
        public var changeIntervalSeconds: Double
        public var invalidated: Bool
    }

    public struct Result: Sendable {
        public var label: String
        public var reads = 0
        public var hits = 0
        /// Reads and stale hits of the TTL-only families.
        public var ttlOnlyReads = 0
        public var staleReads = 0
        /// Final TTL per family (adaptive) in seconds.
        public var ttls: [String: Double] = [:]
        public var hitRatio: Double { reads == 0 ? 0 : Double(hits) / Double(reads) }
        public var staleRate: Double { ttlOnlyReads == 0 ? 0 : Double(staleReads) / Double(ttlOnlyReads) }
    }

    public var families: [FamilySpec] = [
        FamilySpec(name: "stable-inval", changeIntervalSeconds: 3_600, invalidated: true),
        FamilySpec(name: "volatile-inval", changeIntervalSeconds: 60, invalidated: true),
        FamilySpec(name: "stable-ttl", changeIntervalSeconds: 7_200, invalidated: false),
        FamilySpec(name: "volatile-ttl", changeIntervalSeconds: 600, invalidated: false),
    ]
    public var keysPerFamily = 1_000
    public var readsPerSecond = 200.0
    public var durationSeconds = 4 * 3_600.0
    public var zipfExponent = 1.0
    public var seed: UInt64 = 42
    /// Stale-read share the adaptive TTL of a TTL-only family aims at.
    public var staleTarget = 0.01

    public init() {}

    /// The graph the adaptive run uses: TTL-only families declare no dependency.
    var graphText: String {
        var text = "service: bench\ntier: standard\nowns: [Thing]\ncaches:\n"
        for family in families {
            text += "  \(family.name):\n    key: \"\(family.name):{id}\"\n    ttl: {adaptive: {min: 1s, max: 6h}}\n"
            if family.invalidated { text += "    depends_on:\n      - entity: Thing\n        via: tags\n" }
        }
        return text
    }

    public func run(fixedTTLs: [Int64]) throws -> [Result] {
        var results = fixedTTLs.map { ttl in runOnce(label: "fixed \(TTLDuration.format(milliseconds: ttl * 1000))", fixedTTLSeconds: ttl) }
        results.append(runOnce(label: "adaptive", fixedTTLSeconds: nil))
        return results
    }

    func runOnce(label: String, fixedTTLSeconds: Int64?) -> Result {
        var random = SplitMix64(seed: seed)
        let clock = SimulatedClock()
        var configuration = StoreConfiguration(shardCount: 16, clock: { clock.now })
        var monitor: FamilyMonitor?
        if fixedTTLSeconds == nil {
            let loaded = GraphLoader.load(files: [(path: "bench.yaml", text: graphText)])
            guard let graph = loaded.graph, let directory = FamilyDirectory(graph: graph, service: "bench") else {
                fatalError("the benchmark's graph does not load: \(loaded.diagnostics)")
            }
            configuration.families = directory.policy
            monitor = FamilyMonitor(directory: directory, staleTarget: staleTarget)
        }
        let store = CacheStore(configuration)
        monitor?.start(store: store)
        let keyCount = keysPerFamily * families.count
        let zipf = Zipf(count: keyCount, exponent: zipfExponent)
        // Keys are spread over the families (key i belongs to family i % count), so each family
        // gets hot and cold keys alike.
        var versions = [Int](repeating: 0, count: keyCount)
        let keys = (0..<keyCount).map { index in Array("\(families[index % families.count].name):\(index / families.count)".utf8) }
        // Changes: each key's next change time, drawn from its family's exponential law.
        var nextChange = (0..<keyCount).map { index in
            random.exponential(mean: families[index % families.count].changeIntervalSeconds * 1000)
        }
        var changeQueue = MinHeap(nextChange.enumerated().map { ($0.element, $0.offset) })
        var result = Result(label: label)
        let start = clock.now
        var elapsed = 0.0
        var nextTick = 1_000.0
        let end = durationSeconds * 1000
        while true {
            elapsed += random.exponential(mean: 1000 / readsPerSecond)
            if elapsed >= end { break }
            while let (at, index) = changeQueue.peek, at <= elapsed {
                _ = changeQueue.pop()
                versions[index] += 1
                clock.set(start + Int64(at))
                if families[index % families.count].invalidated {
                    let key = String(decoding: keys[index], as: UTF8.self)
                    store.apply(InvalidationMessage(
                        kind: .invalidate, cause: .init(eventID: "", entity: "Thing", id: key, version: UInt64(versions[index]), atMillis: 0),
                        keys: [.init(key: key, depth: 0)], tags: [], fences: []))
                }
                nextChange[index] = at + random.exponential(mean: families[index % families.count].changeIntervalSeconds * 1000)
                changeQueue.push((nextChange[index], index))
            }
            while nextTick <= elapsed {
                clock.set(start + Int64(nextTick))
                monitor?.tick(store: store, now: clock.now)
                nextTick += 1_000
            }
            clock.set(start + Int64(elapsed))
            let index = zipf.sample(&random)
            let family = families[index % families.count]
            let current = Array("v\(versions[index])".utf8)
            result.reads += 1
            if !family.invalidated { result.ttlOnlyReads += 1 }
            if let cached = store.get(keys[index]) {
                result.hits += 1
                if cached != current { result.staleReads += 1 }
            } else {
                let expiry: SetExpiry = fixedTTLSeconds.map { .at(clock.now + $0 * 1000) } ?? .none
                store.set(keys[index], current, expiry: expiry)
            }
        }
        if fixedTTLSeconds == nil {
            for (index, family) in families.enumerated() {
                result.ttls[family.name] = Double(store.defaultTTL(family: UInt16(index + 1))) / 1000
            }
        }
        return result
    }
}

extension TTLBenchmark {
    /// The printed table: one row per run, then each family's final adaptive TTL.
    public static func table(_ results: [Result], families: [FamilySpec]) -> String {
        var lines = ["| TTL | hit ratio | stale reads (TTL-only families) | reads |", "|---|---|---|---|"]
        for result in results {
            lines.append("| \(result.label) | \(String(format: "%.2f %%", result.hitRatio * 100)) | \(String(format: "%.2f %%", result.staleRate * 100)) | \(result.reads) |")
        }
        if let adaptive = results.last(where: { !$0.ttls.isEmpty }) {
            lines.append("")
            lines.append("adaptive TTLs at the end: " + families.map { family in
                "\(family.name) (\(family.invalidated ? "invalidated" : "TTL only"), changes every \(TTLDuration.format(milliseconds: Int64(family.changeIntervalSeconds * 1000)))): \(TTLDuration.format(milliseconds: Int64((adaptive.ttls[family.name] ?? 0) * 1000)))"
            }.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }
}

/// The benchmark's clock: moved by the replay, read by the store.
// @unchecked Sendable: `millis` is touched only under `lock`.
final class SimulatedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64 = 1_800_000_000_000
    var now: Int64 { lock.withLock { millis } }
    func set(_ value: Int64) { lock.withLock { millis = max(millis, value) } }
}

/// Draws of the seeded generator (the graph's), so every run replays the same reads and changes.
extension SplitMix64 {
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }
}

/// Zipf sampling by inverse CDF over a precomputed table.
struct Zipf {
    let cumulative: [Double]
    init(count: Int, exponent: Double) {
        var total = 0.0
        var cumulative: [Double] = []
        cumulative.reserveCapacity(count)
        for rank in 1...count {
            total += 1 / pow(Double(rank), exponent)
            cumulative.append(total)
        }
        self.cumulative = cumulative.map { $0 / total }
    }
    func sample(_ random: inout SplitMix64) -> Int {
        let u = random.unit()
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < u { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A binary min-heap of (time, key index).
struct MinHeap {
    private var items: [(Double, Int)] = []
    init(_ items: [(Double, Int)]) { for item in items { push(item) } }
    var peek: (Double, Int)? { items.first }
    mutating func push(_ item: (Double, Int)) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].0 < items[parent].0 else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }
    mutating func pop() -> (Double, Int)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && items[left].0 < items[smallest].0 { smallest = left }
            if right < items.count && items[right].0 < items[smallest].0 { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
