import CascadeTestSupport
import Foundation
import Testing

/// The harness every end-to-end test runs its commands through.
@Suite("Child processes of the tests")
struct ChildProcessTests {
    @Test("running a command leaves no descriptor open behind it")
    func noDescriptorLeaks() async throws {
        func openDescriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        // Foundation's Process kept two pipe ends per run open: a suite ran past 1,300 and
        // Process.run crashed reading /proc/self/fd.
        _ = try await runCommand("/bin/true", [])
        let before = try openDescriptors()
        for _ in 0..<300 {
            let result = try await runCommand("/bin/echo", ["out"])
            #expect(result.status == 0 && result.stdout == "out\n")
        }
        #expect(try openDescriptors() - before < 30)
    }

    @Test("awaiting a line wakes as soon as it is printed, and a process that exits without it fails the wait")
    func awaitLineAndExit() async throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo starting; sleep 0.2; echo ready; exit 3"])
        try child.run()
        #expect(try await child.awaitLine { $0 == "ready" } == "ready")
        #expect(try await child.awaitExit() == 3)

        let quiet = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo other; exit 1"])
        try quiet.run()
        await #expect(throws: ChildProcessError.self) { try await quiet.awaitLine(timeout: .seconds(10)) { $0 == "never" } }
    }

    @Test("a last line without its newline counts; standard error goes to the log file; stop ends a stopped process")
    func logLastLineAndStop() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "echo oops >&2; printf 'first\\nlast'"], name: "printer", stderrLog: log)
        try child.run()
        #expect(try await child.awaitExit() == 0)
        #expect(child.lines == ["first", "last"])
        #expect(child.stderr.isEmpty)
        #expect(try String(contentsOf: log, encoding: .utf8) == "oops\n")

        let sleeper = try ChildProcess(URL(fileURLWithPath: "/bin/sleep"), ["600"])
        try sleeper.run()
        sleeper.signal(SIGSTOP)
        // SIGTERM does it, well before the grace ends in SIGKILL: the child blocks no signal.
        let stopping = ContinuousClock.now
        await sleeper.stop(grace: .seconds(20))
        #expect(!sleeper.isRunning)
        #expect(ContinuousClock.now - stopping < .seconds(10))
        #expect(try await runCommand("/bin/grep", ["SigBlk", "/proc/self/status"]).stdout == "SigBlk:\t0000000000000000\n")
    }
}
