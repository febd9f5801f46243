import CascadeTestSupport
import Foundation
import Testing

/// Clients that try to take a node down, against the real binary over raw sockets (python3):
/// the node refuses or closes them and stays up, with its memory bounded.
@Suite("Hostile clients", .serialized, .enabled(if: findExecutable("python3") != nil && findExecutable("redis-cli") != nil))
struct HostileClientTests {
    struct Node {
        let process: ChildProcess
        let port: Int

        static func start(_ extra: [String] = []) async throws -> Node {
            let process = try ChildProcess.cascade(["node", "--service", "shop", "--port", "0", "--log-level", "warning"] + extra)
            let line = try await process.awaitLine { $0.contains("listening on") }
            let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
            return Node(process: process, port: port)
        }

        var cli: RedisCLI { RedisCLI(port: port) }

        /// Resident memory of the node process, in MB.
        var residentMB: Int {
            let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
        }
    }

    func python(_ script: String) async throws -> CommandResult {
        try await runCommand("python3", ["-c", script])
    }

    @Test("an unfinished command past client-query-buffer-limit closes that client, not the node")
    func unfinishedCommandPastTheQueryBufferLimit() async throws {
        let node = try await Node.start(["--client-query-buffer-limit", "8mb"])
        defer { node.process.signal(SIGKILL) }
        #expect(try await node.cli("CONFIG", "GET", "client-query-buffer-limit").contains("8388608"))
        // Four 512 MB arguments announced, each within proto-max-bulk-len; 16 MB sent, never finished.
        let result = try await python("""
            import socket
            s = socket.create_connection(("127.0.0.1", \(node.port)))
            s.settimeout(10)
            s.sendall(b"*4\\r\\n$3\\r\\nSET\\r\\n$536870912\\r\\n")
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(16):
                    s.sendall(chunk)
            except OSError:
                pass
            reply = b""
            try:
                while True:
                    data = s.recv(4096)
                    if not data:
                        break
                    reply += data
            except OSError:
                pass
            print(reply.decode(errors="replace"))
            """)
        #expect(result.stdout.contains("client-query-buffer-limit"), "\(result.stdout)\(result.stderr)")
        #expect(try await node.cli("PING") == "PONG")
        #expect(node.residentMB < 200, "RSS \(node.residentMB) MB")
    }

    @Test("a client that pipelines GETs of a large value and never reads stays bounded, and the node serves others")
    func nonReadingClient() async throws {
        let node = try await Node.start()
        defer { node.process.signal(SIGKILL) }
        let value = String(repeating: "v", count: 100_000)
        #expect(try await node.cli.run(["SET", "big"], options: ["-x"], stdin: value).contains("OK"))
        let before = node.residentMB
        let flood = try ChildProcess(URL(fileURLWithPath: try #require(findExecutable("python3"))), ["-c", """
            import socket, time
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", \(node.port)))
            s.settimeout(2)
            batch = b"GET big\\r\\n" * 10000
            sent = 0
            try:
                for _ in range(200):
                    s.sendall(batch)
                    sent += 1
            except OSError:
                pass
            print("sent", sent, flush=True)
            time.sleep(30)
            """])
        try flood.run()
        defer { flood.signal(SIGKILL) }
        _ = try await flood.awaitLine(timeout: .seconds(60)) { $0.hasPrefix("sent") }
        #expect(try await node.cli("GET", "small-probe") == "", "the node still serves other clients")
        let during = node.residentMB
        #expect(during < before + 300, "RSS \(before) MB before, \(during) MB while the client does not read")
        flood.signal(SIGKILL)
        #expect(try await eventually(timeout: .seconds(10)) { try await node.cli("INFO", "clients").contains("connected_clients:1") })
        #expect(node.residentMB < before + 300, "RSS \(node.residentMB) MB after the client left")
    }

    @Test("with --requirepass, the node's /metrics wants the password as a bearer token")
    func metricsNeedThePassword() async throws {
        let metricsPort = freeTCPPort()
        let node = try await Node.start(["--requirepass", "s3cret", "--metrics-port", String(metricsPort)])
        defer { node.process.signal(SIGKILL) }
        func status(_ headers: [String]) async throws -> String {
            try await runCommand("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + headers + ["http://127.0.0.1:\(metricsPort)/metrics"]).stdout
        }
        #expect(try await eventually(timeout: .seconds(10)) { try await status([]) == "401" })
        #expect(try await status(["-H", "Authorization: bearer s3cret"]) == "200")
        #expect(try await status(["-H", "Authorization: Bearer wrong"]) == "401")
    }

    @Test("DEPS too many, too long, or on a key too long for a registration: refused, nothing stored")
    func oversizedRegistrations() async throws {
        let node = try await Node.start()
        defer { node.process.signal(SIGKILL) }
        let manyReply = try await python("""
            import socket
            deps = ["E#%d" % i for i in range(40000)]
            args = ["SET", "k", "v", "DEPS"] + deps
            frame = ("*%d\\r\\n" % len(args)) + "".join("$%d\\r\\n%s\\r\\n" % (len(a), a) for a in args)
            s = socket.create_connection(("127.0.0.1", \(node.port)))
            s.sendall(frame.encode())
            print(s.recv(4096).decode())
            """)
        #expect(manyReply.stdout.contains("ERR too many dependencies (40000)"), "\(manyReply.stdout)\(manyReply.stderr)")
        let long = try await node.cli("SET", "k", "v", "DEPS", "E#" + String(repeating: "x", count: 2000))
        #expect(long.hasPrefix("ERR dependency of 2002 bytes"), "\(long)")
        let longKey = try await node.cli("SET", String(repeating: "k", count: 20_000), "v", "DEPS", "E#1")
        #expect(longKey.hasPrefix("ERR a key with DEPS may have at most"), "\(longKey)")
        #expect(try await node.cli("DBSIZE") == "0")
    }
}
