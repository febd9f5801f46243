import CascadeRESP

/// Per-connection state commands read and change.
struct Session {
    let id: Int
    var version: RESPProtocolVersion = .resp2
    var authenticated: Bool
    var name: String?
    /// Set by QUIT: flush the reply, then close.
    var closeAfterReply = false
}
