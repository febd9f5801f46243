import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A request as the gateway forwards it, and the upstream's answer.
public struct GatewayRequest: Sendable {
    public var method: String
    /// Path and query, as the client sent them.
    public var path: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String, path: String, headers: [(name: String, value: String)], body: [UInt8]? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// Every value of a header; `name` in lowercase, compared case-insensitively.
    public func values(_ name: String) -> [String] {
        headers.compactMap { HeaderName.matches($0.name, lowercased: name) ? $0.value : nil }
    }
}

enum HeaderName {
    /// ASCII case-insensitive comparison with a lowercase name, without making a String.
    static func matches(_ name: String, lowercased: String) -> Bool {
        var other = lowercased.utf8.makeIterator()
        for byte in name.utf8 {
            guard let expected = other.next() else { return false }
            let folded = byte >= 65 && byte <= 90 ? byte + 32 : byte
            if folded != expected { return false }
        }
        return other.next() == nil
    }
}

public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func values(_ name: String) -> [String] {
        headers.compactMap { HeaderName.matches($0.name, lowercased: name) ? $0.value : nil }
    }
}

/// Where misses go. A protocol so the cache's logic can be tested without sockets.
public protocol Upstream: Sendable {
    func send(_ request: GatewayRequest) async throws -> UpstreamResponse
}

/// Headers that belong to one connection, never forwarded or stored (RFC 9110 §7.6.1), and
/// the ones the client library sets itself.
enum HopByHop {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authenticate", "proxy-authorization", "content-length", "host",
    ]
}

/// Why an upstream request failed, in words a client of the gateway can read.
public enum UpstreamError: Error, CustomStringConvertible {
    case bodyTooLarge(limit: Int)
    case timedOut(after: TimeAmount)

    public var description: String {
        switch self {
        case .bodyTooLarge(let limit):
            "the upstream's response is larger than the \(limit >> 20) MiB the gateway passes through"
        case .timedOut(let after):
            "the upstream did not answer within \(after.nanoseconds / 1_000_000_000) s"
        }
    }
}

/// The upstream over HTTP/1.1 with async-http-client: one client, pooled connections.
public final class HTTPUpstream: Upstream {
    let client: HTTPClient
    let base: String
    let timeout: TimeAmount
    let maxBodyBytes: Int

    /// `url`: scheme, host, port and an optional base path (`http://127.0.0.1:9000/api`).
    public init(url: String, timeout: TimeAmount = .seconds(30), maxBodyBytes: Int = 16 * 1024 * 1024) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: GatewayRequest) async throws -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: base + request.path)
        outbound.method = HTTPMethod(rawValue: request.method)
        for header in request.headers where !HopByHop.names.contains(header.name.lowercased()) {
            outbound.headers.add(name: header.name, value: header.value)
        }
        if let body = request.body, !body.isEmpty { outbound.body = .bytes(ByteBuffer(bytes: body)) }
        let response: HTTPClientResponse
        var body: ByteBuffer
        do {
            response = try await client.execute(outbound, timeout: timeout)
            body = try await response.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw UpstreamError.bodyTooLarge(limit: maxBodyBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw UpstreamError.timedOut(after: timeout)
        }
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        return UpstreamResponse(
            status: Int(response.status.code),
            headers: response.headers.filter { !HopByHop.names.contains($0.name.lowercased()) }.map { ($0.name, $0.value) },
            body: bytes)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}
