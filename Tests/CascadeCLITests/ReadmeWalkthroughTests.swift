import CascadeTestSupport
import Foundation
import Testing

/// Runs the README's walkthrough, line by line, against a real `cascade dev`: the commands a
/// newcomer copies must work as written (only the ports and the status file are this run's).
@Suite("README walkthrough", .enabled(if: findExecutable("redis-cli") != nil))
struct ReadmeWalkthroughTests {
    @Test("every walkthrough command runs and the cached value is gone after the publish")
    func walkthrough() async throws {
        let readme = try String(contentsOf: CascadeBinary.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let commands = try walkthroughCommands(readme)
        #expect(commands.count == 5)
        let dev = try await DevSession.start()
        defer { dev.kill() }
        let binary = CascadeBinary.url.path
        var outputs: [String] = []
        for command in commands {
            let line = command
                .replacingOccurrences(of: "-p 6382", with: "-p \(dev.nodes["product-service"] ?? 0)")
                .replacingOccurrences(of: "http://127.0.0.1:8080", with: dev.admin)
                .replacingOccurrences(of: ".cascade-dev.json", with: dev.statusPath)
                .replacingOccurrences(of: "cascade ", with: "\(binary) ")
            if line.contains(" GET ") {
                // The publish before it takes effect once the bus has resolved it.
                let gone = try await eventually(timeout: .seconds(30)) {
                    try await runCommand("/bin/bash", ["-c", line]).stdout.trimmingCharacters(in: .newlines).isEmpty
                }
                #expect(gone, "\(line) still answers a value")
                continue
            }
            let result = try await runCommand("/bin/bash", ["-c", line])
            #expect(result.status == 0, "\(line): \(result.stdout)\(result.stderr)")
            outputs.append(result.stdout)
        }
        #expect(outputs.first?.hasPrefix("OK") == true)
        #expect(outputs.contains { $0.contains("published Product#p-17") })
        #expect(outputs.contains { $0.contains("product:p-17") }, "the live impact names the cached key")
    }

    private func walkthroughCommands(_ readme: String) throws -> [String] {
        guard let start = readme.range(of: "<!-- walkthrough -->"), let end = readme.range(of: "<!-- /walkthrough -->") else {
            throw ChildProcessError.exited(name: "README", status: -1, stderr: "README has no walkthrough block")
        }
        return readme[start.upperBound..<end.lowerBound]
            .split(whereSeparator: \.isNewline)
            .map(String.init)
            .filter { !$0.hasPrefix("```") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
