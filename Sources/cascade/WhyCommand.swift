import ArgumentParser
import CascadeCheck
import CascadeClient
import Foundation

struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Explain one cached key: its last invalidations (root event, path, times) or why it is still cached.",
        discussion: """
            Reads CASCADE.META from the key's node and GET /why from the bus (every instance \
            listed in the status file), which remembers its recent cascades within a bounded \
            number of bytes (cascade bus --why-memory-mb). Ends with a one-line verdict. See \
            docs/check.md#explaining-a-key-cascade-why.
            """)

    @Argument(help: "The key, as SERVICE/KEY, e.g. product-service/product:p-17.")
    var key: String

    @Option(help: "Status file written by `cascade dev --status-file`.")
    var statusFile: String?

    @Option(help: "URL of the bus's admin API (repeatable: every bus instance), e.g. http://127.0.0.1:8080.")
    var admin: [String] = []

    @Option(help: "Bearer token of the bus's admin API.")
    var adminToken: String?

    @Option(help: "The key's node, host:port.")
    var node: String?

    @Option(help: "Password of the node (its --requirepass).")
    var requirepass: String?

    @Option(help: "Output: text or json.")
    var format: WhyFormat = .text

    @Option(help: "Invalidations to show at most, newest first.")
    var limit: Int = 5

    @Option(help: "Seconds to wait for the node or the bus before giving up.")
    var timeout: Double = 5

    enum WhyFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    func validate() throws {
        do { _ = try KeyExplainer.parse(key) } catch let error as CLIError { throw ValidationError(error.description) }
        guard (1...100).contains(limit) else { throw ValidationError("--limit must be from 1 to 100") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if statusFile == nil && (admin.isEmpty || node == nil) {
            throw ValidationError("give --status-file F, or --admin URL and --node host:port")
        }
    }

    func run() async throws {
        let (service, name) = try KeyExplainer.parse(key)
        var admins = admin
        var address = node
        if let statusFile {
            let status = try StatusFile.read(statusFile)
            if admins.isEmpty { admins = status.buses ?? [status.admin] }
            if address == nil { address = try status.node(of: service) }
        }
        guard let address else { throw CLIError("no node for \(service): give --node host:port") }
        let explainer = KeyExplainer(
            admins: admins, adminToken: adminToken, node: address, requirepass: requirepass, timeout: timeout, limit: limit)
        let explanation = try await explainer.explain(service: service, key: name)
        switch format {
        case .text: printLine(explanation.text)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(explanation), as: UTF8.self))
        }
    }
}
