import Foundation

extension KeyExplanation {
    /// `cascade why`'s text: the verdict first, then the node's view, then each invalidation
    /// with its root, its path and the time of each step relative to the event.
    public var text: String {
        var lines = ["\(service)/\(key): \(verdict)", ""]
        if present {
            let ttl = ttlMillis == -1 ? "no expiry" : "\(ttlMillis) ms left"
            lines.append("  cached     yes, set at \(setAtMillis.map(KeyExplanation.clock) ?? "?"), \(ttl)")
        } else {
            lines.append("  cached     no")
        }
        let nodeDeps = deps.node.map { dep in
            dep.dep + (dep.fence.map { " (fence \($0))" } ?? "") + (deps.ledger[dep.tag].map { " (ledger \($0))" } ?? "")
        }
        lines.append("  deps node  " + (nodeDeps.isEmpty ? "none" : nodeDeps.joined(separator: ", ")))
        lines.append("  deps bus   " + (deps.bus.map { $0.isEmpty ? "none" : $0.joined(separator: ", ") } ?? "no registration"))
        var position = "  node       \(node.address)"
        if let lag = node.lag { position += ", \(lag) messages behind" }
        if let staleness = node.stalenessMillis { position += ", current as of \(staleness) ms ago" }
        if let applied = node.applied, !applied.isEmpty {
            position += ", applied " + applied.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        }
        lines.append(position)
        if !fences.isEmpty {
            lines.append("  fences     " + fences.map { "\($0.cause ?? "?") at \(KeyExplanation.clock($0.atMillis))" }.joined(separator: "; "))
        }
        for letter in deadLetters {
            lines.append("  dead letter \(letter.key) \(letter.topic)[\(letter.partition)]@\(letter.offset): \(letter.reason)")
        }
        if invalidations.isEmpty {
            lines += ["", "No invalidation of it is remembered by the bus."]
        }
        for (index, invalidation) in invalidations.enumerated() {
            let cause = invalidation.cause
            lines += ["", "invalidation \(index + 1) of \(invalidations.count) (newest first)"]
            var root = "  root       \(cause.name)  event \(cause.eventID)  \(cause.topic)[\(cause.partition)]@\(cause.offset)"
            if let trace = cause.traceID { root += "  trace \(trace)" }
            if cause.kind != "invalidate" { root += "  (\(cause.kind))" }
            lines.append(root)
            lines.append("  path       \(cause.entity)#\(cause.id)")
            for hop in invalidation.path {
                let reason = KeyExplanation.reasonText(hop.reason) + (hop.cycle ? ", in a cycle" : "")
                lines.append("             → \(hop.key)  (\(reason))")
            }
            lines.append("  depth      \(invalidation.depth)")
            lines.append("  times      " + KeyExplanation.timeline(invalidation.times))
        }
        return lines.joined(separator: "\n")
    }

    static func reasonText(_ reason: String) -> String {
        switch reason {
        case "bound": return "bound template"
        case "registered": return "registration"
        case "undeclared": return "registration the graph does not declare"
        default: return reason
        }
    }

    /// `event produced 12:00:00.123Z, consumed by the bus +3 ms, ...`.
    static func timeline(_ times: Times) -> String {
        let start = times.producedMillis ?? times.consumedMillis
        var steps = ["event produced " + (times.producedMillis.map(clock) ?? "(no timestamp)")]
        func step(_ name: String, _ millis: Int64?) {
            steps.append(name + " " + (millis.map { "+\($0 - start) ms" } ?? "unknown"))
        }
        step("consumed by the bus", times.consumedMillis)
        step("invalidation produced", times.sentMillis)
        step("acked", times.ackedMillis)
        step("applied on the node", times.appliedMillis)
        return steps.joined(separator: ", ")
    }
}
