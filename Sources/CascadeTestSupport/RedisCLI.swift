import Foundation

/// redis-cli pointed at one node: what a test runs where a user would type a command.
public struct RedisCLI: Sendable {
    public let port: Int

    public init(port: Int) { self.port = port }

    /// `redis-cli -p PORT [options] arguments...`: its standard output without trailing newlines.
    @discardableResult
    public func callAsFunction(_ arguments: String..., options: [String] = []) async throws -> String {
        try await run(arguments, options: options)
    }

    @discardableResult
    public func callAsFunction(_ arguments: [String]) async throws -> String {
        try await run(arguments)
    }

    /// The same with standard input (for `-x`, or commands piped in).
    @discardableResult
    public func run(_ arguments: [String], options: [String] = [], stdin: String? = nil) async throws -> String {
        var output = try await runCommand("redis-cli", ["-p", String(port)] + options + arguments, stdin: stdin).stdout
        while output.hasSuffix("\n") { output.removeLast() }
        return output
    }
}
