import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `graph impact --live URL`: asks a running bus `GET URL/impact?ref=Entity%23id` for the
/// instance closure, keys found through registrations included. Returns what to print: the
/// bus's JSON as it is with `json`, pretty-printed for people otherwise.
public func liveImpact(base: String, ref: String, json: Bool, token: String? = nil) async throws(GraphQueryError) -> String {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "#&=+")
    let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
    guard let query = ref.addingPercentEncoding(withAllowedCharacters: allowed),
          let url = URL(string: "\(trimmed)/impact?ref=\(query)"), url.scheme == "http" || url.scheme == "https"
    else {
        throw GraphQueryError("--live '\(base)' is not an http:// URL.")
    }
    var request = URLRequest(url: url)
    request.timeoutInterval = 10
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let data: Data
    let response: URLResponse
    do {
        (data, response) = try await URLSession.shared.data(for: request)
    } catch {
        throw GraphQueryError("bus at \(base) is not reachable (\(error.localizedDescription)).")
    }
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    let body = String(decoding: data, as: UTF8.self)
    guard status == 200 else {
        throw GraphQueryError("bus at \(base) answered \(status) for \(ref): \(body.prefix(300))")
    }
    if json { return body }
    if let object = try? JSONSerialization.jsonObject(with: data),
       let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
        return String(decoding: pretty, as: UTF8.self)
    }
    return body
}
