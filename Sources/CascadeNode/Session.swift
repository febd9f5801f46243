import CascadeRESP

/// Per-connection state commands read and change.
struct Session {
    let id: Int
    var version: RESPProtocolVersion = .resp2
    var authenticated: Bool
    var name: String?
    /// Set by QUIT: flush the reply, then close.
    var closeAfterReply = false
    /// Set by a CASCADE.AFTER that must wait: the connection answers it, and runs the
    /// commands after it, once the position is applied or the time is up.
    var waitFor: (partition: Int32, offset: Int64, timeoutMillis: Int64)?
}
