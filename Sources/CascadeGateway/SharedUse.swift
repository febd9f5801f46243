/// Who besides the request that fetched a response may be given it: the rule a shared cache
/// follows both to store a response and to hand it to requests that waited on the same fetch
/// (RFC 9111 §3, §3.5, §4.1). Storing and coalescing answer the same question, so they ask
/// this one type.
struct SharedUse: Sendable {
    /// Whether any other request may receive the response at all.
    let shareable: Bool
    /// Whether the upstream said the response may be shared (`public`, `s-maxage`,
    /// `max-age`), rather than leaving the cache to guess a lifetime.
    private let explicitlyShared: Bool
    /// The response's `Vary` names (lowercased, sorted) with the fetching request's values of
    /// them: another request may receive it only with the same values.
    private let varied: [(name: String, value: String)]

    /// Headers only the client that caused them may see: never stored, never given to a
    /// request that joined the fetch.
    static let personalHeaders: Set<String> = ["set-cookie", "set-cookie2", "authentication-info", "proxy-authentication-info"]

    /// `varyNames`: the response's `Vary` names, nil for `Vary: *`.
    init(status: Int, control: CacheControl, varyNames: [String]?, personal: Bool, request: GatewayRequest) {
        let hasCookie = !request.values("cookie").isEmpty
        let hasAuthorization = !request.values("authorization").isEmpty
        // A response to a request with credentials is shared only when the upstream says so in
        // so many words: §3.5 for Authorization; for Cookie, a response with no explicit
        // freshness is how per-user pages usually look, and guessing a lifetime for one is
        // how a shared cache hands a user's page to everybody (web cache deception).
        let explicitlyShared = control.isPublic || control.sharedFreshness != nil
        let authorizationAllows = control.isPublic || control.sharedMaxAge != nil || control.mustRevalidate
        var shareable = !control.noStore && !control.isPrivate && !control.noCache && !personal
            && varyNames != nil && GatewayCache.storableStatus.contains(status)
        if hasCookie && !explicitlyShared { shareable = false }
        if hasAuthorization && !authorizationAllows { shareable = false }
        self.shareable = shareable
        self.explicitlyShared = explicitlyShared
        varied = (varyNames ?? []).map { ($0, request.values($0).joined(separator: ",")) }
    }

    /// Whether `other`, a different request for the same URL, may receive the response.
    func admits(_ other: GatewayRequest) -> Bool {
        guard shareable else { return false }
        if !explicitlyShared && !other.values("cookie").isEmpty { return false }
        for field in varied where other.values(field.name).joined(separator: ",") != field.value { return false }
        return true
    }
}
