import CascadeTestSupport
import Foundation
import Testing

/// Figures for the floor of `cascade why` (issue 26): the whole command, process start
/// included, against a `cascade dev` whose product node holds 1M keys, all registered at the
/// bus, with the bus's memory of cascades filled by tens of thousands of events. Opt-in, it
/// loads for minutes: `CASCADE_WHY_FIGURES=1 swift test --skip-build --filter WhyFigures`
/// (`CASCADE_WHY_KEYS` to change the key count).
@Suite("cascade why on 1M keys: figures", .serialized, .enabled(if: ProcessInfo.processInfo.environment["CASCADE_WHY_FIGURES"] == "1"))
struct WhyFigures {
    @Test func answersWithinTheFloor() async throws {
        let keys = Int(ProcessInfo.processInfo.environment["CASCADE_WHY_KEYS"] ?? "") ?? 1_000_000
        let dev = try await DevSession.start()
        defer { dev.kill() }
        let port = String(dev.nodes["product-service"] ?? 0)
        let loadStart = ContinuousClock.now
        for first in stride(from: 0, to: keys, by: 100_000) {
            var pipe = ""
            for index in first..<min(keys, first + 100_000) { pipe += "SET k:\(index) v DEPS Product#p-\(index % 100_000)@1\r\n" }
            let loaded = try await runCommand("redis-cli", ["-p", port, "--pipe"], stdin: pipe, timeout: .seconds(300))
            #expect(loaded.status == 0, "\(loaded.stderr)")
        }
        #expect(try await eventually(timeout: .seconds(600)) { try await indexedKeys(dev) == keys })
        print("why figures: \(keys) keys stored and registered in \(ContinuousClock.now - loadStart)")

        // Fill the memory: events whose closures are bound keys only (no one registered them).
        let fillers = 60_000
        var events = ""
        for index in 0..<fillers {
            events += #"{"entity":"Product","id":"x-\#(index)","op":"update","version":1,"origin":"figures"}"# + "\n"
        }
        let sent = try await runCommand("kcat", ["-b", dev.kafka, "-P", "-t", "cascade.events"], stdin: events, timeout: .seconds(300))
        #expect(sent.status == 0)
        try await dev.publish("Product", "p-7", version: 2)
        #expect(try await eventually(timeout: .seconds(300)) { try await dev.cli("product-service", "EXISTS", "k:7") == "0" })
        let memory = try await runCommand("curl", ["-s", "\(dev.admin)/why?key=product-service/k:8"]).stdout
        let object = (try? JSONSerialization.jsonObject(with: Data(memory.utf8))) as? [String: Any]
        print("why figures: bus memory \(object?["memory"] ?? "?")")

        for (name, expected) in [("k:7", "invalidated by Product#p-7@2 through 1 hop"), ("k:8", "no event has reached it since it was stored")] {
            var times: [Duration] = []
            var output = ""
            for _ in 0..<5 {
                let started = ContinuousClock.now
                let why = try await runCommand(CascadeBinary.url.path, ["why", "product-service/\(name)", "--status-file", dev.statusPath])
                times.append(ContinuousClock.now - started)
                output = why.stdout
            }
            let best = times.min() ?? .zero
            let median = times.sorted()[times.count / 2]
            print("why figures: cascade why product-service/\(name): best \(best), median \(median) (whole process) — \(output.split(separator: "\n").first ?? "")")
            #expect(output.contains(expected), "\(output)")
            #expect(median < .milliseconds(200))
        }
        // The bus's share alone (GET /why), timed by curl.
        let timed = try await runCommand("curl", ["-s", "-o", "/dev/null", "-w", "%{time_total}", "\(dev.admin)/why?key=product-service/k:8"])
        print("why figures: GET /why (full scan of the memory, nothing found) \(timed.stdout) s")
    }
}

private func indexedKeys(_ dev: DevSession) async throws -> Int? {
    let metrics = try await runCommand("curl", ["-s", "\(dev.admin)/metrics"]).stdout
    return metrics.split(separator: "\n").first { $0.hasPrefix("cascade_bus_indexed_keys ") }
        .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
}
