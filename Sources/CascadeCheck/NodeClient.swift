import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking RESP client for one node (the audit, `publish --wait`, benchmarks): enough for SCAN, pipelined CASCADE.META and UNLINK.
/// A CLI run is one thread doing one thing at a time, so plain sockets with timeouts suffice.
public final class NodeClient {
    public let address: String
    private let fd: Int32
    private var reader = RESPReplyReader()
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    /// Connects to `host:port` within `timeout` seconds and authenticates when `password` is set.
    public init(address: String, timeout: Double, password: String?) throws {
        self.address = address
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw OperatorError("'\(address)' is not host:port")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        fd = try NodeClient.open(host: host, port: port, timeout: timeout, address: address)
        if let password {
            let reply = try command(encodeRESPCommand("AUTH", password))
            if case .error(let message) = reply { throw OperatorError("the node at \(address) refused AUTH: \(message)") }
        }
    }

    deinit { close(fd) }

    private static func open(host: String, port: UInt16, timeout: Double, address: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw OperatorError("cannot resolve the node host '\(host)' of \(address)")
        }
        defer { freeaddrinfo(list) }
        var failure = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            // Non-blocking connect bounded by poll, so a dead host costs the timeout, not minutes.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var waiter = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&waiter, 1, Int32(timeout * 1000)) == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    result = error == 0 ? 0 : -1
                    errno = error
                } else {
                    errno = ETIMEDOUT
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                var interval = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            failure = String(cString: strerror(errno))
            close(fd)
        }
        throw OperatorError("cannot reach the node at \(address): \(failure)")
    }

    /// Sends one command and reads its reply.
    public func command(_ bytes: [UInt8]) throws -> RESPReply {
        try sendAll(bytes)
        return try receive()
    }

    /// Sends every command in one write, then reads as many replies.
    public func pipeline(_ commands: [[UInt8]]) throws -> [RESPReply] {
        try sendAll(commands.flatMap { $0 })
        return try commands.map { _ in try receive() }
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw OperatorError("lost the node at \(address) while writing: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private func receive() throws -> RESPReply {
        while true {
            do {
                if let reply = try reader.next() { return reply }
            } catch {
                throw OperatorError("the node at \(address) sent a reply that is not RESP: \(error.description)")
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                reader.append(chunk[0..<count])
            } else if count == 0 {
                throw OperatorError("the node at \(address) closed the connection")
            } else if errno != EINTR {
                let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "no reply in time" : String(cString: strerror(errno))
                throw OperatorError("lost the node at \(address): \(reason)")
            }
        }
    }
}
