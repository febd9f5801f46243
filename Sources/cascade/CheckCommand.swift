import ArgumentParser
import CascadeCheck
import CascadeWire
import Foundation

extension CheckFormat: ExpressibleByArgument {}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Audit the caches against the bus's ledger: report (and --repair) stale keys.",
        discussion: """
            Reads every key of every node (SCAN, then CASCADE.META) and the ledger version of each \
            entity they depend on. A key is stale when it was cached from a version older than the \
            ledger's, or when a dependency changed after it was set and no invalidation reached \
            its node. Exit 0: consistent; 1: stale keys found; 2: could not run. See docs/check.md.

            With --watch it runs as a service instead: it follows the invalidation topics and, \
            for a sample of the invalidated keys, asks the node once the race window has passed \
            whether it still holds a value stored before the invalidation; Prometheus metrics on \
            --metrics-port, every violation named in the log. See docs/consistency.md.
            """)

    @Option(name: .customLong("node"), help: "A node to read, service=host:port (repeatable).")
    var nodes: [String] = []

    @Option(help: "URL of the bus's admin API, e.g. http://127.0.0.1:8480.")
    var admin: String?

    @Option(help: "Bearer token of the bus's admin API.")
    var adminToken: String?

    @Option(help: "Password of the nodes (their --requirepass).")
    var requirepass: String?

    @Option(help: "JSON file with admin, admin_token, requirepass and nodes (see docs/check.md).")
    var config: String?

    @Option(help: "Status file written by `cascade dev --status-file`.")
    var statusFile: String?

    @Option(help: "Output: text, json or prometheus (textfile-collector format).")
    var format: CheckFormat = .text

    @Flag(help: "Delete the stale keys from their nodes.")
    var repair = false

    @Option(help: "Seconds to wait for a node or the bus before giving up.")
    var timeout: Double = 5

    @Option(help: "Milliseconds to wait before re-reading suspect keys, so in-flight invalidations are not reported.")
    var settleMs: Int = 1000

    @Option(help: "Keys asked for per SCAN.")
    var scanCount: Int = 1000

    @OptionGroup(title: "Continuous checks (--watch)") var watch: CheckWatchOptions

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard settleMs >= 0 else { throw ValidationError("--settle-ms must not be negative") }
        guard scanCount >= 1 else { throw ValidationError("--scan-count must be at least 1") }
        for node in nodes {
            do { _ = try CheckTargets.parseNode(node) } catch { throw ValidationError(error.description) }
        }
        if watch.watch {
            guard format == .text, !repair else { throw ValidationError("--format and --repair are for the audit, not with --watch") }
        }
        try watch.validate()
    }

    func run() async throws {
        if watch.watch { return try await runWatch() }
        do {
            let report = try await audit()
            printLine(trimmed(format.render(report)))
            if !report.isConsistent { throw ExitCode(1) }
        } catch let error as ExitCode {
            throw error
        } catch {
            let message = (error as? CLIError)?.description ?? String(describing: error)
            if let failure = format.renderFailure(message) { printLine(trimmed(failure)) }
            throw CLIError(message)
        }
    }

    private func trimmed(_ text: String) -> String {
        text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    func audit() async throws -> CheckReport {
        var flags = CheckTargets(admin: admin, adminToken: adminToken, requirepass: requirepass)
        for node in nodes {
            let parsed = try CheckTargets.parseNode(node)
            flags.nodes[parsed.service] = parsed.address
        }
        let targets = try await CheckTargets.gather(statusFile: statusFile, config: config, flags: flags, timeout: timeout)
        return try await CheckAudit(targets: targets, timeout: timeout, settleMillis: settleMs, scanCount: scanCount, repair: repair).run()
    }
}
