import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `--live URL`: asks a running bus `GET URL/impact?ref=Entity%23id` for the instance closure.
enum GraphLiveClient {
    static func printImpact(base: String, ref: String, json: Bool, token: String? = nil) async throws {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "#&=+")
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        guard let query = ref.addingPercentEncoding(withAllowedCharacters: allowed),
              let url = URL(string: "\(trimmed)/impact?ref=\(query)"), url.scheme == "http" || url.scheme == "https"
        else {
            GraphOutput.fail("--live '\(base)' is not an http:// URL.")
            throw ExitCode(2)
        }
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            GraphOutput.fail("bus at \(base) is not reachable (\(error.localizedDescription)).")
            throw ExitCode(2)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let body = String(decoding: data, as: UTF8.self)
        guard status == 200 else {
            GraphOutput.fail("bus at \(base) answered \(status) for \(ref): \(body.prefix(300))")
            throw ExitCode(2)
        }
        if json {
            print(body)
            return
        }
        // The bus answers JSON; pretty-print it for people.
        if let object = try? JSONSerialization.jsonObject(with: data),
           let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(body)
        }
    }
}
