import CascadeClient
import CascadeGraph
import CascadeKafka
import CascadeProcess
import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// `cascade bench scale`: `count` real `cascade bus --partitioned-state` processes on one broker,
/// fed the same registrations and event stream for each count, measured from outside: what
/// `/shards` says each holds, what `/proc` says each spent, what reaches the invalidation topics.
struct BenchScaleProcesses {
    var executable: URL
    var broker: BenchBroker
    var graph: String
    var services: [String]
    var partitions: Int
    var workload: BenchBusWorkload
    /// By partition: the keys whose registrations have an edge there, warm-up included.
    var keysByPartition: [Int32: Set<String>]
    /// Events a second of the paced stream whose e2e latency is measured.
    var rate: Int
    var directory: URL

    struct Instance {
        var name: String
        var indexBytes = 0
        var registrations = 0
        var cpuSecondsPer1000Events = 0.0
        /// CPU seconds a second it spends with nothing to do (its consumers polling, beacons).
        var idleCPU = 0.0
        /// Over the stream, less what it would have spent idle meanwhile.
        var cpuSecondsPer1000EventsBeyondIdle = 0.0
        var rebuildSeconds: Double?
    }

    struct Figures {
        var instances: [Instance] = []
        var hopsPerEvent = 0.0
        /// Registrations of the workload the race check judged stale: none, when set as nodes set them.
        var staleRegistrations = 0
        var e2eMillis: (p50: Double, p99: Double, events: Int) = (0, 0, 0)
    }

    /// One system of `count` instances, on topics of its own; stopped on every exit path.
    func measure(instances count: Int) async throws -> Figures {
        let round = "scale\(count)-\(UUID().uuidString.prefix(6).lowercased())"
        let system = ScaleSystem(
            executable: executable, directory: directory, round: round, prefix: broker.prefix + round + ".",
            bootstrap: broker.bootstrapServers, graph: graph, partitions: partitions)
        do {
            let figures = try await measure(system, count: count)
            await system.stopAll()
            return figures
        } catch {
            await system.stopAll()
            throw error
        }
    }

    private func measure(_ system: ScaleSystem, count: Int) async throws -> Figures {
        try await broker.createTopics(system.topics.all(services: services) + [system.topics.edges, system.topics.hops], partitions: partitions)
        for index in 0..<count { try await system.start(index) }
        try await system.awaitShared(count: count)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers))
        defer { Task { await producer.shutdown() } }
        let racesBefore = try await register(system, producer: producer)
        var figures = Figures()
        let held = try await system.awaitSettled(count: count) { partitions in
            partitions.reduce(into: Set<String>()) { $0.formUnion(keysByPartition[$1] ?? []) }.count
        }
        figures.instances = held.map { Instance(name: $0.instance, indexBytes: $0.indexBytes ?? 0, registrations: $0.registrations) }
        figures.staleRegistrations = Int(await system.sum("cascade_bus_registration_races_total") - racesBefore)

        // What each instance spends doing nothing: a fixed cost the stream's figure includes.
        let idleStart = (cpu: system.cpuSeconds(), at: ContinuousClock.now)
        try await Task.sleep(for: .seconds(2))
        let idleSeconds = (ContinuousClock.now - idleStart.at).inSeconds
        let idleCPU = zip(system.cpuSeconds(), idleStart.cpu).map { ($0 - $1) / idleSeconds }

        // CPU and hops over the whole stream, sent as fast as it goes.
        let cpuBefore = system.cpuSeconds()
        let streamStart = ContinuousClock.now
        let hopsBefore = await system.sum("cascade_bus_hops_sent_total")
        let eventsBefore = await system.sum("cascade_bus_events_total")
        for event in workload.events {
            try await producer.produce(topic: system.topics.events, key: event.key, value: event.value, token: 0)
        }
        try await system.awaitMetric("cascade_bus_events_total", atLeast: eventsBefore + Double(workload.events.count))
        let cpuAfter = system.cpuSeconds()
        let streamSeconds = (ContinuousClock.now - streamStart).inSeconds
        let events = Double(workload.events.count)
        for index in figures.instances.indices {
            let spent = cpuAfter[index] - cpuBefore[index]
            figures.instances[index].cpuSecondsPer1000Events = spent / events * 1000
            figures.instances[index].idleCPU = idleCPU[index]
            figures.instances[index].cpuSecondsPer1000EventsBeyondIdle = max(0, spent - idleCPU[index] * streamSeconds) / events * 1000
        }
        figures.hopsPerEvent = (await system.sum("cascade_bus_hops_sent_total") - hopsBefore) / events

        figures.e2eMillis = try await e2e(system, producer: producer)

        // Each instance in turn killed and started again, timed until it holds as much rebuilt as before.
        for index in 0..<count {
            let warmBefore = try await system.warmPartitions(index)
            figures.instances[index].rebuildSeconds = try await system.restart(index, warm: warmBefore, count: count)
        }
        return figures
    }

    /// A registration on each dependency family first, then, once the instances have surely
    /// heard of the families, the workload's, set now: registrations as nodes send them, which
    /// the race check finds fresh. The first registration on a family is always judged stale
    /// (`EdgeLandingCheck`: nobody can vouch for what was invalidated before the family was
    /// learned), so its invalidation says the family is learned; a value set a settle time and a
    /// race window after that is trusted.
    /// Returns the races counted before the workload's registrations.
    private func register(_ system: ScaleSystem, producer: KafkaProducer) async throws -> Double {
        guard let first = workload.registrations.first else { return 0 }
        let racesBefore = await system.sum("cascade_bus_registration_races_total")
        let warmUp = Self.warmUp(first)
        try await produce([warmUp], to: system, producer: producer)
        try await system.awaitMetric("cascade_bus_registration_races_total", atLeast: racesBefore + 1, timeout: .seconds(60))
        // A time rule with nothing to observe: settle time (500 ms) and race window (2 s), and a margin.
        try await Task.sleep(for: .seconds(3))
        let races = await system.sum("cascade_bus_registration_races_total")
        try await produce(workload.registrations, to: system, producer: producer)
        return races
    }

    static func warmUp(_ first: Registration) -> Registration {
        Registration(service: first.service, key: "order:warm-up:summary", deps: first.deps, setAtMillis: 0)
    }

    /// By partition, the keys of `registrations` (and the warm-up's) with an edge there.
    static func keysByPartition(_ registrations: [Registration], graph: CacheGraph, partitions: Int) -> [Int32: Set<String>] {
        let all = (registrations.first.map { [warmUp($0)] } ?? []) + registrations
        let records = BenchScaleCommand.route(all, graph: graph, partitioner: StatePartitioner(count: Int32(partitions)))
        return records.mapValues { Set($0.map(\.key.description)) }
    }

    private func produce(_ registrations: [Registration], to system: ScaleSystem, producer: KafkaProducer) async throws {
        let now = Timestamps.nowMillis()
        for var registration in registrations {
            registration.setAtMillis = now
            try await producer.produce(
                topic: system.topics.deps, key: Array(registration.kafkaKey.utf8), value: registration.encoded(), token: 0)
        }
        guard await producer.flush(timeout: .seconds(300)) else { throw OperatorError("bench scale: the registrations were not all delivered") }
    }

    /// Events at `rate` a second for 5 s: from producing each to the last invalidation it
    /// caused (hops included) arriving on the invalidation topics.
    private func e2e(_ system: ScaleSystem, producer: KafkaProducer) async throws -> (p50: Double, p99: Double, events: Int) {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers), subscription: .manual(commitGroup: system.round + "-e2e"))
        // From where the invalidation topics end before the first paced event.
        let ends = try await consumer.watermarks(of: services.map { system.topics.invalidations(service: $0) })
        try consumer.add(ends.map { TopicPartition(topic: $0.topic, partition: $0.partition, offset: $0.high) })
        let sent = NIOLockedValueBox([String: UInt64]())
        let last = NIOLockedValueBox([String: UInt64]())
        let reader = Task {
            for await event in consumer.events {
                guard case .messages(let batch) = event else { continue }
                let now = chaosNow()
                for message in batch {
                    // The bus writes batches of invalidations, one per event span and service.
                    guard let bytes = message.valueBytes, let invalidations = try? InvalidationBatch.decode(bytes) else { continue }
                    last.withLockedValue { last in
                        for invalidation in invalidations { last[invalidation.cause.eventID] = now }
                    }
                }
            }
        }
        let count = rate * 5
        let eventsBefore = await system.sum("cascade_bus_events_total")
        let started = chaosNow()
        for index in 0..<count {
            let due = started + UInt64(index) * 1_000_000_000 / UInt64(rate)
            let wait = Int64(due) - Int64(chaosNow())
            if wait > 1_000_000 { try await Task.sleep(for: .nanoseconds(wait)) }
            let source = workload.events[index % workload.events.count]
            let eventID = "e2e-\(index)"
            let event = BenchBusWorkload.event(
                entity: source.entity, id: source.id, version: source.version + 10_000_000, attr: source.attr, eventID: eventID)
            sent.withLockedValue { $0[eventID] = chaosNow() }
            try await producer.produce(topic: system.topics.events, key: event.key, value: event.value, token: 0)
        }
        try await system.awaitMetric("cascade_bus_events_total", atLeast: eventsBefore + Double(count))
        // Then until a second passes with no event's last invalidation moving: the last hops have landed.
        var settled = last.withLockedValue { $0 }
        while true {
            try await Task.sleep(for: .seconds(1))
            let now = last.withLockedValue { $0 }
            if now == settled { break }
            settled = now
        }
        reader.cancel()
        await consumer.shutdown()
        let sentAt = sent.withLockedValue { $0 }
        let millis = settled.compactMap { id, at in sentAt[id].map { Double(at) / 1e6 - Double($0) / 1e6 } }.sorted()
        guard !millis.isEmpty else { return (0, 0, 0) }
        let at = { (q: Double) in millis[min(millis.count - 1, Int(Double(millis.count) * q))] }
        return (at(0.5), at(0.99), millis.count)
    }
}

/// The table `bench scale` prints for one instance count, ratios against the single instance.
enum ScaleReport {
    static func lines(_ figures: BenchScaleProcesses.Figures, count: Int, single: BenchScaleProcesses.Figures) -> [String] {
        let singleBytes = Double(single.instances.map(\.indexBytes).max() ?? 1)
        let singleCPU = single.instances.map(\.cpuSecondsPer1000Events).reduce(0, +)
        let singleRebuild = single.instances.compactMap(\.rebuildSeconds).max() ?? 0
        var lines = [
            String(
                format: "%d instance%@: hops/event %.2f, e2e p50/p99 %.1f/%.1f ms (%d events at the paced rate), %d registrations judged stale",
                count, count == 1 ? "" : "s", figures.hopsPerEvent, figures.e2eMillis.p50, figures.e2eMillis.p99, figures.e2eMillis.events,
                figures.staleRegistrations),
            "  instance                     index MB  ratio  registrations  CPU s/1000 events  beyond idle  idle CPU %  rebuild s  ratio",
        ]
        for instance in figures.instances {
            let rebuild = instance.rebuildSeconds ?? 0
            lines.append(String(
                format: "  %@ %10.1f  %5.2f  %13d  %17.3f  %11.3f  %10.1f  %9.2f  %5.2f",
                instance.name.padding(toLength: 26, withPad: " ", startingAt: 0),
                Double(instance.indexBytes) / 1_048_576, Double(instance.indexBytes) / singleBytes, instance.registrations,
                instance.cpuSecondsPer1000Events, instance.cpuSecondsPer1000EventsBeyondIdle, instance.idleCPU * 100, rebuild,
                singleRebuild > 0 ? rebuild / singleRebuild : 0))
        }
        let cpu = figures.instances.map(\.cpuSecondsPer1000Events).reduce(0, +)
        let beyondIdle = figures.instances.map(\.cpuSecondsPer1000EventsBeyondIdle).reduce(0, +)
        let singleBeyondIdle = single.instances.map(\.cpuSecondsPer1000EventsBeyondIdle).reduce(0, +)
        let maxBytes = Double(figures.instances.map(\.indexBytes).max() ?? 0)
        let maxRebuild = figures.instances.compactMap(\.rebuildSeconds).max() ?? 0
        lines.append(String(
            format: "  largest index %.2f of one instance's (owned and standby partitions); CPU summed %.3f s/1000 events, %.2fx "
                + "(beyond idle %.3f, %.2fx); slowest rebuild %.2f of one instance's",
            maxBytes / singleBytes, cpu, singleCPU > 0 ? cpu / singleCPU : 0, beyondIdle, singleBeyondIdle > 0 ? beyondIdle / singleBeyondIdle : 0,
            singleRebuild > 0 ? maxRebuild / singleRebuild : 0))
        return lines
    }
}
