import CascadeCache
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The gateway's HTTP front: every request goes to the cache (no router: every path is the
/// upstream's).
struct GatewayResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let cache: GatewayCache

    func respond(to request: Request, context: Context) async throws -> Response {
        var body: [UInt8]?
        if request.method != .get && request.method != .head {
            var buffer = try await request.body.collect(upTo: cache.configuration.maxRequestBytes)
            body = buffer.readBytes(length: buffer.readableBytes)
        }
        let reply = await cache.handle(GatewayRequest(
            method: request.method.rawValue, path: request.head.path ?? "/",
            headers: request.headers.map { ($0.name.rawName, $0.value) }, body: body))
        var fields = HTTPFields()
        fields.reserveCapacity(reply.headers.count)
        for header in reply.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: reply.status), headers: fields,
            body: reply.body.isEmpty ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}

/// Builds the gateway's HTTP application; `onListening` hears the bound address.
public func buildGatewayApplication(
    cache: GatewayCache, logger: Logger, onListening: @escaping @Sendable (String, Int) -> Void
) -> some ApplicationProtocol {
    let configuration = cache.configuration
    return Application(
        responder: GatewayResponder(cache: cache),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "cascade-gateway"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            cache.node.listening(on: configuration.host, port: port)
            onListening(configuration.host, port)
        },
        logger: logger)
}

/// Holds the upstream client open until shutdown, then closes it. First in the service group,
/// so it stops last, after the HTTP server.
public final class UpstreamClientService: Service {
    let upstream: HTTPUpstream

    public init(upstream: HTTPUpstream) {
        self.upstream = upstream
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await upstream.shutdown()
    }
}
