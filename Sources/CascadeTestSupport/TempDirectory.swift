import Foundation

/// Files written to a fresh temporary folder, as a user would have them on disk (a graph
/// directory, a config file).
public struct TempDirectory: Sendable {
    public let directory: String

    public init(_ files: [String: String]) throws {
        directory = NSTemporaryDirectory() + "cascade-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
