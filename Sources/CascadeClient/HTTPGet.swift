import AsyncHTTPClient
import NIOCore

/// A GET on the bus's admin API (or any HTTP endpoint of a running system), through
/// AsyncHTTPClient's shared client: the one HTTP client of the project, on NIO like the rest.
public enum HTTPGet {
    /// Largest body read: `/why`, `/impact` and `/metrics` answers are far smaller.
    static let maxBodyBytes = 256 << 20

    /// The status and the body of `GET url`, with `Authorization: Bearer token` when a token
    /// is given; throws when the server cannot be reached or does not answer within `timeout`
    /// seconds.
    public static func fetch(_ url: String, token: String? = nil, timeout: Double) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let body = try await response.body.collect(upTo: maxBodyBytes)
        return (Int(response.status.code), Array(body.readableBytesView))
    }
}
