import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for the bus's admin API: answers `GET /ledger/<Entity>/<id>` from a table the
/// test sets, `/readyz` with 200, anything else 404. One blocking thread, one request per
/// connection: enough for `cascade check`.
final class FakeBus: @unchecked Sendable {
    private let lock = NSLock()
    private var ledger: [String: String] = [:]
    private let listener: Int32
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread { [weak self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                self?.answer(client)
                close(client)
            }
        }
    }

    /// Sets the version the ledger reports for `Entity#id`, changed `atMillis` ago.
    func setVersion(_ entity: String, _ id: String, _ version: UInt64, atMillis: Int64 = 1_000) {
        let body = #"{"entity":"\#(entity)","id":"\#(id)","version":\#(version),"origin":"test","at_ms":\#(atMillis),"event_id":"e-\#(version)","digest":7}"#
        lock.withLock { ledger["/ledger/\(entity)/\(id)"] = body }
    }

    private func answer(_ client: Int32) {
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            request += chunk[0..<count]
        }
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let path = line.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let (status, body): (String, String)
        if path == "/readyz" {
            (status, body) = ("200 OK", "ready\n")
        } else if let record = lock.withLock({ ledger[path] }) {
            (status, body) = ("200 OK", record)
        } else {
            (status, body) = ("404 Not Found", "no version is known\n")
        }
        let response = Array("HTTP/1.1 \(status)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
