import CascadeCheck
import Foundation

/// What `cascade dev --status-file F` writes once everything is ready, and what `publish` and
/// `check` read to find the broker, the bus and the nodes.
struct StatusFile: Codable, Equatable {
    var kafka: String
    var admin: String
    var nodes: [String: String]
    var entities: [String]
    var topicPrefix: String
    /// The gateway's URL, with `cascade dev --gateway-upstream`.
    var gateway: String?

    enum CodingKeys: String, CodingKey {
        case kafka, admin, nodes, entities, gateway
        case topicPrefix = "topic_prefix"
    }

    static func read(_ path: String) throws -> StatusFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIError("cannot read the status file \(path): is `cascade dev` running?")
        }
        do {
            return try JSONDecoder().decode(StatusFile.self, from: data)
        } catch {
            throw CLIError("\(path) is not a Cascade status file")
        }
    }

    func write(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        // Write then rename, so a reader never sees half a file.
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw CLIError("could not write \(path)") }
    }
}

/// A user mistake or an unreachable dependency: printed as one plain sentence, no stack trace.
typealias CLIError = OperatorError
