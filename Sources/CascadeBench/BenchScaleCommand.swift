import ArgumentParser
import CascadeGraph
import CascadeWire
import Foundation

/// The bus's state split over instances by partition (issue 24). By default real
/// `cascade bus --partitioned-state` processes, 1, 2 and 4 of them on one broker with the same
/// registrations and event stream (`BenchScaleProcesses`). `--in-process` models the index
/// alone, without a broker: hops go straight to the share that owns them, so those figures leave
/// out what producing and consuming a hop costs, and the shares share one process's caches.
public struct BenchScaleCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "The bus's state split over 1, 2 and 4 instances by partition: index bytes, rebuild, CPU per event, hops.",
        discussion: """
            `cascade bench bus`'s registrations (order summaries on a product, an order and a user \
            profile) and event mix. For each instance count, `cascade bus --partitioned-state` \
            processes of this binary on topics of their own: the registrations are sent as nodes \
            send them, then per instance what `/shards` says it holds (index bytes, registrations) \
            and the CPU seconds per 1,000 events it spent on the stream (from /proc), system-wide \
            hops per event, e2e p50/p99 at --rate events/s (event produced to the last invalidation \
            it caused read back from the invalidation topics), and each instance in turn killed \
            (SIGKILL) and timed until it holds its partitions rebuilt again. The embedded broker \
            keeps about 5 MB per partition: 1M registrations need --bootstrap (a real broker) or \
            about 100 partitions. With --in-process: the index alone, shares in one process, no \
            broker. Run from the repository root (it reads graph/), release build.
            """)

    @Option(help: "Registered keys (default: 100,000 on processes, 1,000,000 in process).")
    var keys: Int?

    @Option(help: "Events of the stream (default: 50,000 on processes, 200,000 in process).")
    var events: Int?

    @Option(help: "Partitions of the events topic and of every state topic (default: 24 on processes, 12 in process).")
    var partitions: Int32?

    @Option(help: "Instance counts, comma-separated.")
    var instances = "1,2,4"

    @Option(help: "Events a second of the stream whose e2e latency is measured (processes).")
    var rate = 1000

    @Option(help: "A broker's bootstrap servers (host:port) instead of the embedded one (processes).")
    var bootstrap: String?

    @Flag(help: "Model the index alone in this process, without a broker or bus processes.")
    var inProcess = false

    @Option(help: "Directory of the graph's YAML files.")
    var graph = "graph"

    public func validate() throws {
        guard partitionCount >= 1, partitionCount <= 1024 else { throw ValidationError("--partitions must be between 1 and 1024.") }
        guard counts.count >= 1, counts.allSatisfy({ $0 >= 1 && $0 <= Int(partitionCount) }) else {
            throw ValidationError("--instances must list counts between 1 and --partitions, e.g. 1,2,4.")
        }
        guard keyCount >= 1, eventCount >= 1, rate >= 1 else { throw ValidationError("--keys, --events and --rate must be at least 1.") }
        // About 150 bytes per registration and 110 per edge record, three each.
        let perPartition = keyCount * 480 / Int(partitionCount)
        guard inProcess || bootstrap != nil || perPartition <= 4_000_000 else {
            throw ValidationError("""
                --keys \(keyCount) on \(partitionCount) partitions puts about \(perPartition / 1_000_000) MB on each partition of the \
                embedded broker, which keeps about 5 MB: use --partitions \(keyCount * 480 / 4_000_000 + 1) or more, or --bootstrap.
                """)
        }
    }

    private var counts: [Int] { instances.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    private var keyCount: Int { keys ?? (inProcess ? 1_000_000 : 100_000) }
    private var eventCount: Int { events ?? (inProcess ? 200_000 : 50_000) }
    private var partitionCount: Int32 { partitions ?? (inProcess ? 12 : 24) }

    public func run() async throws {
        if inProcess { return try runInProcess() }
        let (cacheGraph, _) = try loadGraph(directory: graph)
        let broker = try BenchBroker(bootstrap: bootstrap, partitions: Int(partitionCount))
        defer { broker.shutdown() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-bench-scale-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let workload = BenchBusWorkload(events: eventCount, keys: keyCount)
        let bench = BenchScaleProcesses(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(), broker: broker, graph: graph,
            services: cacheGraph.serviceNames, partitions: Int(partitionCount), workload: workload,
            keysByPartition: BenchScaleProcesses.keysByPartition(workload.registrations, graph: cacheGraph, partitions: Int(partitionCount)),
            rate: rate, directory: directory)
        printLine("cascade bench scale: \(keyCount) registrations, \(eventCount) events, \(partitionCount) partitions, \(broker.label); "
            + "cascade bus --partitioned-state processes, logs in \(directory.path)")
        var single: BenchScaleProcesses.Figures?
        for count in counts {
            let figures = try await bench.measure(instances: count)
            if single == nil { single = figures }
            printLine(ScaleReport.lines(figures, count: count, single: single ?? figures).joined(separator: "\n"))
        }
        printLine("floors (issue 24, with 4 instances): index ≤ 0.35 of one instance's (≤ 0.6 counting warm standbys), "
            + "rebuild ≤ 0.35, CPU per event summed ≤ 1.5x")
    }

    private func runInProcess() throws {
        let (cacheGraph, _) = try loadGraph(directory: graph)
        let events = eventCount
        let keys = keyCount
        let workload = BenchBusWorkload(events: events, keys: keys)
        let partitioner = StatePartitioner(count: partitionCount)
        let records = Self.route(workload.registrations, graph: cacheGraph, partitioner: partitioner)
        print("cascade bench scale --in-process: \(keys) registrations, \(events) events, \(partitionCount) partitions, graph \(graph); no broker")
        print("instances  index MB/instance (max)  ratio  registrations held (max)  rebuild s (max)  ratio  CPU µs/event (sum)  ratio  interleaved  ratio  hops/event  named twice/event")
        let today = Self.wholeIndex(workload: workload, graph: cacheGraph)
        print(String(
            format: "today: one index fed registrations whole: %.1f MB, %d registrations, rebuilt in %.2f s, closure %.2f µs/event",
            today.maxIndexMB, today.maxRegistrations, today.maxRebuildSeconds, today.cpuMicrosPerEvent))
        var single: ScaleFigures?
        for count in counts {
            let figures = Self.measure(
                instances: count, events: events, graph: cacheGraph, records: records, workload: workload, partitioner: partitioner)
            let base = single ?? figures
            if single == nil { single = figures }
            print(String(
                format: "%9d  %23.1f  %5.2f  %24d  %15.2f  %5.2f  %18.2f  %5.2f  %11.2f  %5.2f  %10.2f  %16.2f", count, figures.maxIndexMB,
                figures.maxIndexMB / base.maxIndexMB, figures.maxRegistrations, figures.maxRebuildSeconds,
                figures.maxRebuildSeconds / base.maxRebuildSeconds, figures.cpuMicrosPerEvent, figures.cpuMicrosPerEvent / base.cpuMicrosPerEvent,
                figures.interleavedMicrosPerEvent, figures.interleavedMicrosPerEvent / base.interleavedMicrosPerEvent,
                figures.hopsPerEvent, figures.namedTwicePerEvent))
        }
        print("floors (issue 24, with 4 instances): index ≤ 0.35 of one instance's, rebuild ≤ 0.35, CPU per event ≤ 1.5x")
    }

    /// Each registration through the router of its key's partition, as the instances would:
    /// the edge records of every partition.
    static func route(_ registrations: [Registration], graph: CacheGraph, partitioner: StatePartitioner) -> [Int32: [EdgeRecord]] {
        let router = IndexShare(index: InstanceIndex(graph: graph), partitioner: partitioner, holding: Set(0..<partitioner.count))
        var byPartition: [Int32: [EdgeRecord]] = [:]
        for registration in registrations {
            let dependencies = registration.deps.compactMap { try? Dependency.parse($0, service: registration.service) }
            var pending = router.route(
                CacheKeyRef(service: registration.service, key: registration.key), dependencies: dependencies, owner: registration.owner)
            while let record = pending.popLast() {
                byPartition[record.partition, default: []].append(record)
                pending += router.apply(record)
            }
        }
        return byPartition
    }

    /// An event's closure in the share that receives it and the hops it causes, each in the
    /// share that owns it; returns every share's closure (the event's first) and the hops sent.
    static func cascade(
        _ event: DomainEvent, root: String, shares: [IndexShare], owner: (Int32) -> Int, partitioner: StatePartitioner
    ) -> (closures: [InstanceClosure], hops: Int) {
        let first = shares[owner(partitioner.partition(of: "\(event.ref.entity)#\(event.ref.id)"))].closure(of: event, root: root)
        var closures = [first.closure]
        var queue = first.hops
        var hops = 0
        while let hop = queue.popLast() {
            hops += 1
            guard let next = shares[owner(hop.partition)].closure(of: hop) else { continue }
            closures.append(next.closure)
            queue += next.hops
        }
        return (closures, hops)
    }

    /// The same cascades, each share working through what it was handed before the next
    /// share starts (its events, then in rounds the hops the others sent it), as instances on
    /// machines of their own do: a share's work stays in its own cache. Returns the hops sent.
    static func cascadeByShare(
        _ events: [DomainEvent], shares: [IndexShare], owner: (Int32) -> Int, partitioner: StatePartitioner
    ) -> Int {
        var roots = [[Int]](repeating: [], count: shares.count)
        for (position, event) in events.enumerated() {
            roots[owner(partitioner.partition(of: "\(event.ref.entity)#\(event.ref.id)"))].append(position)
        }
        var hops = [[StateHop]](repeating: [], count: shares.count)
        for (share, positions) in roots.enumerated() {
            for position in positions {
                for hop in shares[share].closure(of: events[position], root: "e-\(position)").hops { hops[owner(hop.partition)].append(hop) }
            }
        }
        var sent = 0
        while hops.contains(where: { !$0.isEmpty }) {
            let round = hops
            hops = [[StateHop]](repeating: [], count: shares.count)
            for (share, handed) in round.enumerated() {
                sent += handed.count
                for hop in handed {
                    for next in shares[share].closure(of: hop)?.hops ?? [] { hops[owner(next.partition)].append(next) }
                }
            }
        }
        return sent
    }

    /// The index as every instance holds it today, for the 1-instance comparison.
    static func wholeIndex(workload: BenchBusWorkload, graph: CacheGraph) -> ScaleFigures {
        let index = InstanceIndex(graph: graph)
        let started = ContinuousClock.now
        for registration in workload.registrations { _ = index.register(registration) }
        var figures = ScaleFigures()
        figures.maxRebuildSeconds = (ContinuousClock.now - started).inSeconds
        let statistics = index.statistics
        figures.maxIndexMB = Double(statistics.approximateBytes) / 1_048_576
        figures.maxRegistrations = statistics.registeredKeys
        let cpuStart = BenchBusPipeline.threadCPUNanos()
        for event in workload.events {
            _ = index.closure(of: domainEvent(event, position: 0))
        }
        figures.cpuMicrosPerEvent = Double(BenchBusPipeline.threadCPUNanos() - cpuStart) / 1000 / Double(max(1, workload.events.count))
        return figures
    }

    static func domainEvent(_ event: BenchBusWorkload.Event, position: Int) -> DomainEvent {
        DomainEvent(
            ref: EntityRef(entity: event.entity, id: event.id), op: .update, version: event.version, origin: "bench",
            attrs: [event.attr.name: event.attr.value], eventID: "e-\(position)")
    }

    struct ScaleFigures {
        var maxIndexMB = 0.0
        var maxRegistrations = 0
        var maxRebuildSeconds = 0.0
        var cpuMicrosPerEvent = 0.0
        /// The same events with every share's work interleaved event by event on one core.
        var interleavedMicrosPerEvent = 0.0
        var hopsPerEvent = 0.0
        var namedTwicePerEvent = 0.0
    }

    private static func measure(
        instances count: Int, events: Int, graph: CacheGraph, records: [Int32: [EdgeRecord]], workload: BenchBusWorkload, partitioner: StatePartitioner
    ) -> ScaleFigures {
        var figures = ScaleFigures()
        let owner = { (partition: Int32) in Int(partition) % count }
        var shares: [IndexShare] = []
        let filter = HopFilter(graph: graph)
        for instance in 0..<count {
            let held = Set((0..<partitioner.count).filter { owner($0) == instance })
            let share = IndexShare(index: InstanceIndex(graph: graph), partitioner: partitioner, holding: held, filter: filter)
            let started = ContinuousClock.now
            for partition in held.sorted() {
                for record in records[partition] ?? [] { _ = share.apply(record) }
            }
            let seconds = (ContinuousClock.now - started).inSeconds
            let statistics = share.index.statistics
            figures.maxRebuildSeconds = max(figures.maxRebuildSeconds, seconds)
            figures.maxIndexMB = max(figures.maxIndexMB, Double(statistics.approximateBytes) / 1_048_576)
            figures.maxRegistrations = max(figures.maxRegistrations, statistics.registeredKeys)
            shares.append(share)
        }
        let resolved = min(events, workload.events.count)
        let domains = workload.events.prefix(resolved).enumerated().map { Self.domainEvent($1, position: $0) }
        // Timed as a whole, as the index of today is, share by share; then interleaved (the
        // shares' memory competing for one core's cache); then again, untimed, to count what
        // was named twice.
        let started = BenchBusPipeline.threadCPUNanos()
        let hops = Self.cascadeByShare(domains, shares: shares, owner: owner, partitioner: partitioner)
        let cpuNanos = BenchBusPipeline.threadCPUNanos() - started
        let interleavedStart = BenchBusPipeline.threadCPUNanos()
        for (position, domain) in domains.enumerated() {
            _ = Self.cascade(domain, root: "i-\(position)", shares: shares, owner: owner, partitioner: partitioner)
        }
        figures.interleavedMicrosPerEvent = Double(BenchBusPipeline.threadCPUNanos() - interleavedStart) / 1000 / Double(resolved)
        var namedTwice = 0
        for (position, domain) in domains.enumerated() where count > 1 {
            let closures = Self.cascade(domain, root: "again-\(position)", shares: shares, owner: owner, partitioner: partitioner).closures
            let names = closures.flatMap { $0.entries.map(\.name) }
            namedTwice += names.count - Set(names).count
        }
        figures.cpuMicrosPerEvent = Double(cpuNanos) / 1000 / Double(resolved)
        figures.hopsPerEvent = Double(hops) / Double(resolved)
        figures.namedTwicePerEvent = Double(namedTwice) / Double(resolved)
        return figures
    }
}
