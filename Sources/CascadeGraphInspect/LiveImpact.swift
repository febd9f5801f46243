import CascadeClient
import Foundation

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
    let status: Int
    let data: Data
    do {
        let answer = try await HTTPGet.fetch(url.absoluteString, token: token, timeout: 10)
        (status, data) = (answer.status, Data(answer.body))
    } catch {
        throw GraphQueryError("bus at \(base) is not reachable (\(error)).")
    }
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
