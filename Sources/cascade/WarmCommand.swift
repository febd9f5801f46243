import ArgumentParser
import CascadeCheck
import CascadeClient
import Foundation

struct WarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Load a cold node from JSON lines {\"key\",\"value\",\"ttl\",\"deps\"} through pipelined SET ... EX ... DEPS.",
        discussion: """
            Reads FILE (or standard input for -), one JSON object a line; blank lines are \
            skipped. Prints a progress line on standard error and a summary on standard output. \
            Exits 1 when a line does not parse or the node refuses a value (e.g. -STALE: the \
            value is older than an invalidation the node applied), 2 when the node is unreachable.
            """
    )

    @Option(help: "The service whose node is warmed.")
    var service: String

    @Option(help: "The node's host:port.")
    var node: String?

    @Option(help: "Status file written by `cascade dev --status-file`: the service's node is taken from it.")
    var statusFile: String?

    @Option(help: "Password of the node.")
    var password: String?

    @Option(help: "Commands sent per pipelined batch.")
    var batch: Int = 512

    @Option(help: "Seconds to wait for the node's replies.")
    var timeout: Double = 10

    @Argument(help: "JSON lines file, or - for standard input.")
    var file: String

    func validate() throws {
        guard (node == nil) != (statusFile == nil) else { throw ValidationError("give exactly one of --node and --status-file") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        let address = try node ?? StatusFile.read(statusFile ?? "").node(of: service)
        let (input, totalBytes) = try NodeWarmer.open(file)
        let progress = try await NodeWarmer(address: address, password: password, timeout: timeout, batch: batch)
            .warm(input, totalBytes: totalBytes, name: file == "-" ? "stdin" : file)
        print("warmed \(service) at \(address): \(progress.stored) stored, \(progress.refusedCount) refused, \(progress.malformedCount) malformed")
        if progress.refusedCount + progress.malformedCount > 0 { throw ExitCode(1) }
    }
}
