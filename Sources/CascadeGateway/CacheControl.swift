/// The `Cache-Control` directives a shared cache acts on (RFC 9111 §5.2), parsed from one or
/// more header values. Unknown directives are ignored, as the RFC asks.
public struct CacheControl: Sendable, Equatable {
    public var noStore = false
    public var noCache = false
    public var isPrivate = false
    public var isPublic = false
    public var mustRevalidate = false
    public var maxAge: Int64?
    public var sharedMaxAge: Int64?
    public var staleWhileRevalidate: Int64?
    public var staleIfError: Int64?
    public var onlyIfCached = false

    public init() {}

    public init(_ values: [String]) {
        for value in values {
            for part in value.split(separator: ",") {
                let directive = part.trimmingSpace
                let name: Substring
                var argument: Substring?
                if let equals = directive.firstIndex(of: "=") {
                    name = directive[..<equals].trimmingSpace
                    var raw = directive[directive.index(after: equals)...].trimmingSpace
                    if raw.hasPrefix("\""), raw.hasSuffix("\""), raw.count >= 2 { raw = raw.dropFirst().dropLast() }
                    argument = raw
                } else {
                    name = directive
                }
                let seconds = argument.flatMap { Int64($0) }.map { max(0, $0) }
                switch name.lowercased() {
                case "no-store": noStore = true
                case "no-cache": noCache = true
                case "private": isPrivate = true
                case "public": isPublic = true
                case "must-revalidate", "proxy-revalidate": mustRevalidate = true
                case "max-age": maxAge = seconds ?? 0
                case "s-maxage": sharedMaxAge = seconds ?? 0
                case "stale-while-revalidate": staleWhileRevalidate = seconds
                case "stale-if-error": staleIfError = seconds
                case "only-if-cached": onlyIfCached = true
                default: break
                }
            }
        }
    }

    /// How long a shared cache may serve the response without asking: s-maxage, else max-age.
    public var sharedFreshness: Int64? { sharedMaxAge ?? maxAge }
}

extension Substring {
    var trimmingSpace: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
