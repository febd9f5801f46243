@_exported import CascadeProcess
import Foundation

extension ChildProcess {
    /// Starts `cascade` (the binary built beside the tests, or `CASCADE_BIN`) with the given arguments.
    public static func cascade(_ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        let child = try ChildProcess(CascadeBinary.url, arguments, environment: environment, name: "cascade")
        try child.run()
        return child
    }
}

/// Runs a command to completion and returns its exit status and output (for redis-cli, kcat, dot).
public struct CommandResult: Sendable {
    /// The executable's name.
    public var command: String
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public func runCommand(_ executable: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(60)) async throws -> CommandResult {
    let path = executable.hasPrefix("/") ? executable : (findExecutable(executable) ?? executable)
    let child = try ChildProcess(URL(fileURLWithPath: path), arguments)
    try child.run()
    if let stdin { child.write(stdin) }
    child.closeStdin()
    let status = try await child.awaitExit(timeout: timeout)
    return CommandResult(command: child.name, status: status, stdout: child.stdout, stderr: child.stderr)
}

extension CommandResult {
    /// Throws unless the command exited with 0, with what it printed on standard error.
    public func requireSuccess() throws {
        guard status == 0 else { throw ChildProcessError.exited(name: command, status: status, stderr: stderr) }
    }
}

public func findExecutable(_ name: String) -> String? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    for folder in paths {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Waits for a condition with a deadline, polling; the alternative to sleeping in a test.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// A TCP port on 127.0.0.1 that nothing listens on now, chosen by the kernel, for a command
/// that must be told its port. A random pick could land on a port in use (the ephemeral range
/// starts at 32768), and the command would fail to start.
public func freeTCPPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 20_000..<30_000)
}
