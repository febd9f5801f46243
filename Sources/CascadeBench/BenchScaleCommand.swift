import ArgumentParser
import CascadeGraph
import CascadeWire
import Foundation

/// The bus's registration index split over instances by partition (issue 24), measured in
/// process: what each instance would hold and rebuild, and what a cascade costs in CPU when it
/// crosses shares. No broker: hops go straight to the share that owns them, so the figures leave
/// out what producing and consuming a hop costs.
public struct BenchScaleCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "The registration index split over 1, 2 and 4 instances by partition, in process.",
        discussion: """
            `cascade bench bus`'s registrations (order summaries on a product, an order and a user \
            profile) and event mix, routed into shares as the edges topic would carry them. Per \
            instance count: each instance's index bytes, registrations and routed keys held, the \
            time to rebuild its share (route its keys, apply its edge records), and over the event \
            stream the CPU per event summed over instances, hops per event and keys named twice. \
            Run from the repository root (it reads graph/), release build.
            """)

    @Option(help: "Registered keys.")
    var keys = 1_000_000

    @Option(help: "Events resolved per instance count.")
    var events = 200_000

    @Option(help: "Partitions of the events topic (and of every state topic).")
    var partitions: Int32 = 12

    @Option(help: "Instance counts, comma-separated.")
    var instances = "1,2,4"

    @Option(help: "Directory of the graph's YAML files.")
    var graph = "graph"

    public func validate() throws {
        guard partitions >= 1, partitions <= 1024 else { throw ValidationError("--partitions must be between 1 and 1024.") }
        guard counts.count >= 1, counts.allSatisfy({ $0 >= 1 && $0 <= Int(partitions) }) else {
            throw ValidationError("--instances must list counts between 1 and --partitions, e.g. 1,2,4.")
        }
        guard keys >= 1, events >= 1 else { throw ValidationError("--keys and --events must be at least 1.") }
    }

    private var counts: [Int] { instances.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    public func run() throws {
        let (cacheGraph, _) = try loadGraph(directory: graph)
        let workload = BenchBusWorkload(events: events, keys: keys)
        let partitioner = StatePartitioner(count: partitions)
        let records = Self.route(workload.registrations, graph: cacheGraph, partitioner: partitioner)
        print("cascade bench scale: \(keys) registrations, \(events) events, \(partitions) partitions, graph \(graph); in process, no broker")
        print("instances  index MB/instance (max)  ratio  registrations held (max)  rebuild s (max)  ratio  CPU µs/event (sum)  ratio  hops/event  named twice/event")
        let today = Self.wholeIndex(workload: workload, graph: cacheGraph)
        print(String(
            format: "today: one index fed registrations whole: %.1f MB, %d registrations, rebuilt in %.2f s, closure %.2f µs/event",
            today.maxIndexMB, today.maxRegistrations, today.maxRebuildSeconds, today.cpuMicrosPerEvent))
        var single: ScaleFigures?
        for count in counts {
            let figures = measure(instances: count, graph: cacheGraph, records: records, workload: workload, partitioner: partitioner)
            let base = single ?? figures
            if single == nil { single = figures }
            print(String(
                format: "%9d  %23.1f  %5.2f  %24d  %15.2f  %5.2f  %18.2f  %5.2f  %10.2f  %16.2f", count, figures.maxIndexMB,
                figures.maxIndexMB / base.maxIndexMB, figures.maxRegistrations, figures.maxRebuildSeconds,
                figures.maxRebuildSeconds / base.maxRebuildSeconds, figures.cpuMicrosPerEvent, figures.cpuMicrosPerEvent / base.cpuMicrosPerEvent,
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

    /// The index as every instance holds it today, for the 1-instance comparison.
    static func wholeIndex(workload: BenchBusWorkload, graph: CacheGraph) -> ScaleFigures {
        let index = InstanceIndex(graph: graph)
        let started = ContinuousClock.now
        for registration in workload.registrations { _ = index.register(registration) }
        var figures = ScaleFigures()
        figures.maxRebuildSeconds = (ContinuousClock.now - started).seconds
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
        var hopsPerEvent = 0.0
        var namedTwicePerEvent = 0.0
    }

    private func measure(
        instances count: Int, graph: CacheGraph, records: [Int32: [EdgeRecord]], workload: BenchBusWorkload, partitioner: StatePartitioner
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
            let seconds = (ContinuousClock.now - started).seconds
            let statistics = share.index.statistics
            figures.maxRebuildSeconds = max(figures.maxRebuildSeconds, seconds)
            figures.maxIndexMB = max(figures.maxIndexMB, Double(statistics.approximateBytes) / 1_048_576)
            figures.maxRegistrations = max(figures.maxRegistrations, statistics.registeredKeys)
            shares.append(share)
        }
        let resolved = min(events, workload.events.count)
        let domains = workload.events.prefix(resolved).enumerated().map { Self.domainEvent($1, position: $0) }
        // Timed as a whole, as the index of today is; then again, untimed, to count what was named twice.
        var hops = 0
        let started = BenchBusPipeline.threadCPUNanos()
        for (position, domain) in domains.enumerated() {
            hops += Self.cascade(domain, root: "e-\(position)", shares: shares, owner: owner, partitioner: partitioner).hops
        }
        let cpuNanos = BenchBusPipeline.threadCPUNanos() - started
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

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
