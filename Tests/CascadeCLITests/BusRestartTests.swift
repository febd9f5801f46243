import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// Issue 23's floor "always ready in bounded time": a `cascade bus` killed (SIGKILL) and
/// started again, 20 times in a row, against `cascade kafka`, while registrations keep flowing
/// into `cascade.deps` through kcat; each start must answer GET /readyz with 200 in time.
@Suite("A bus killed and restarted 20 times is ready each time", .serialized,
       .enabled(if: findExecutable("kcat") != nil && findExecutable("curl") != nil))
struct BusRestartTests {
    static let restarts = 20
    /// Per start, from spawning the process to /readyz 200 (a debug build, two shared cores).
    /// Under a sanitizer (`make test-sanitize`) the bound is what a build several times slower
    /// needs: there the test looks for races and leaks on every restart, the floor is `make test`'s.
    static let readyWithin = ProcessInfo.processInfo.environment["CASCADE_SANITIZER"] == nil ? Duration.seconds(20) : .seconds(60)

    @Test("SIGKILL and restart 20 times with registrations flowing: /readyz says 200 within the bound each time")
    func killAndRestartTwentyTimes() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", "4", "--log-level", "warning"])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let graph = CascadeBinary.packageRoot.appendingPathComponent("graph").path

        // Registrations as nodes write them (key `service/key`, JSON value), through kcat:
        // 5,000 before the first start, then 100 a second for as long as the test runs (the
        // debug build replays about 10,000 a second: more would make each round slower).
        let writer = try ChildProcess(
            URL(fileURLWithPath: try #require(findExecutable("kcat"))),
            ["-P", "-b", bootstrap, "-t", "cascade.deps", "-K", "\t", "-X", "linger.ms=1"])
        try writer.run()
        defer { writer.signal(SIGKILL) }
        writer.write(Self.lines(0..<5_000))
        let flowing = Task {
            var next = 5_000
            while !Task.isCancelled {
                writer.write(Self.lines(next..<next + 2))
                next += 2
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { flowing.cancel() }

        let port = freeTCPPort()
        var times: [Duration] = []
        var notReadyBodies: Set<String> = []
        for round in 1...Self.restarts {
            let started = ContinuousClock.now
            let bus = try ChildProcess.cascade([
                "bus", "--graph", graph, "--kafka", bootstrap, "--admin-port", String(port), "--partitions", "4",
                "--group", "restart-test", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "--log-level", "warning",
            ])
            defer { bus.signal(SIGKILL) }
            var ready = false
            while !ready && ContinuousClock.now - started < Self.readyWithin {
                let answer = try await runCommand(
                    "curl", ["-s", "-m", "2", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/readyz"], timeout: .seconds(5))
                let lines = answer.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.last == "200" {
                    ready = true
                } else if lines.last == "503", let body = lines.first {
                    notReadyBodies.insert(String(body.prefix(40)))
                }
                if !ready {
                    #expect(bus.isRunning, "round \(round): the bus exited: \(bus.stderr.suffix(2000))")
                    guard bus.isRunning else { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let elapsed = ContinuousClock.now - started
            #expect(ready, "round \(round): not ready within \(Self.readyWithin); stderr: \(bus.stderr.suffix(3000))")
            guard ready else { break }
            times.append(elapsed)
            bus.signal(SIGKILL)
            _ = try await bus.awaitExit(timeout: .seconds(10))
        }
        #expect(times.count == Self.restarts)
        #expect(writer.isRunning, "kcat kept producing: \(writer.stderr.suffix(1000))")
        // While not ready the body says what it waits for.
        #expect(notReadyBodies.allSatisfy { $0.hasPrefix("rebuilding the index and the ledger") }, "\(notReadyBodies)")
        let sorted = times.sorted()
        print("bus restarts: \(times.count), start to /readyz 200: min \(sorted.first ?? .zero), median \(sorted.isEmpty ? .zero : sorted[sorted.count / 2]), max \(sorted.last ?? .zero)")
    }

    /// Registrations `range` as kcat's `key<TAB>value` lines.
    static func lines(_ range: Range<Int>) -> String {
        var text = ""
        for n in range {
            let registration = Registration(
                service: "order-service", key: "order:o-\(n):summary",
                deps: ["Product#p-\(n % 300)", "Order#o-\(n)", "user-service/user:u-\(n % 100):profile"],
                setAtMillis: 1_795_000_000_000 + Int64(n), owner: RegistrationOwner(node: "9f3c1a27d04e5b61", incarnation: UInt64(n + 1)))
            text += registration.kafkaKey + "\t" + String(decoding: registration.encoded(), as: UTF8.self) + "\n"
        }
        return text
    }
}
