import Foundation

/// `--format`: people, scripts, or node_exporter's textfile collector.
public enum CheckFormat: String, CaseIterable, Sendable {
    case text, json, prometheus

    public func render(_ report: CheckReport) -> String {
        switch self {
        case .text: return CheckFormat.text(report)
        case .json: return CheckFormat.json(report)
        case .prometheus: return CheckFormat.prometheus(report)
        }
    }

    /// What a run that could not finish prints, so a dashboard sees the failure, not old numbers.
    public func renderFailure(_ message: String, at date: Date = Date()) -> String? {
        switch self {
        case .text: return nil
        case .json: return encode(["success": false, "error": message] as [String: any Sendable])
        case .prometheus:
            return CheckFormat.gauge("cascade_check_success", "1 when the last check ran to the end.", ["": 0])
                + CheckFormat.gauge("cascade_check_last_run_timestamp_seconds", "When the last check finished.", ["": date.timeIntervalSince1970.rounded()])
        }
    }

    static func text(_ report: CheckReport) -> String {
        var lines: [String] = []
        let width = max(7, report.services.map(\.service.count).max() ?? 0)
        lines.append("service".padding(toLength: width, withPad: " ", startingAt: 0) + "    keys   stale  consistency")
        for service in report.services {
            let ratio = service.keys == 0 ? 1 : Double(service.keys - service.stale) / Double(service.keys)
            lines.append(
                service.service.padding(toLength: width, withPad: " ", startingAt: 0)
                    + pad(service.keys, 8) + pad(service.stale, 8) + "  " + Nines.percent(ratio))
        }
        for key in report.stale {
            let action = report.repair ? (key.repaired ? "  [repaired: deleted]" : "  [not repaired]") : ""
            lines.append("stale \(key.service) \(key.name): \(key.reasons.map(\.description).joined(separator: "; "))\(action)")
        }
        let verdict = report.isConsistent
            ? "consistent: \(report.totalKeys) keys, none stale"
            : "\(report.staleKeys) of \(report.totalKeys) keys stale"
        lines.append("\(verdict); consistency \(Nines.describe(report.consistencyRatio))")
        return lines.joined(separator: "\n")
    }

    private static func pad(_ number: Int, _ width: Int) -> String {
        let text = String(number)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }

    static func json(_ report: CheckReport) -> String {
        let stale: [[String: any Sendable]] = report.stale.map { key in
            var entry: [String: any Sendable] = [
                "service": key.service, "key": key.name,
                "reasons": key.reasons.map { ["kind": $0.kind, "text": $0.description] },
            ]
            if report.repair { entry["repaired"] = key.repaired }
            return entry
        }
        let object: [String: any Sendable] = [
            "success": true,
            "consistent": report.isConsistent,
            "keys": report.totalKeys,
            "stale_keys": report.staleKeys,
            "consistency_ratio": report.consistencyRatio,
            "nines": report.nines.map { $0 as any Sendable } ?? NSNull(),
            "services": report.services.map { ["service": $0.service, "keys": $0.keys, "stale_keys": $0.stale] as [String: any Sendable] },
            "stale": stale,
            "ledger_lookups": report.ledgerLookups,
            "duration_seconds": report.durationSeconds,
            "finished_at": ISO8601DateFormatter().string(from: report.finishedAt),
        ]
        return CheckFormat.json.encode(object)
    }

    private func encode(_ object: [String: any Sendable]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func prometheus(_ report: CheckReport) -> String {
        let keys = Dictionary(uniqueKeysWithValues: report.services.map { ($0.service, Double($0.keys)) })
        let stale = Dictionary(uniqueKeysWithValues: report.services.map { ($0.service, Double($0.stale)) })
        return gauge("cascade_check_keys_total", "Keys read from each service's node.", keys)
            + gauge("cascade_check_stale_keys", "Keys found stale on each service's node.", stale)
            + gauge("cascade_check_consistency_ratio", "Share of keys that are not stale.", ["": report.consistencyRatio])
            + gauge("cascade_check_duration_seconds", "How long the check took.", ["": report.durationSeconds])
            + gauge("cascade_check_last_run_timestamp_seconds", "When the last check finished.", ["": report.finishedAt.timeIntervalSince1970.rounded()])
            + gauge("cascade_check_success", "1 when the last check ran to the end.", ["": 1])
    }

    /// One gauge in the text exposition format; the "" service means no label.
    static func gauge(_ name: String, _ help: String, _ samples: [String: Double]) -> String {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (service, value) in samples.sorted(by: { $0.key < $1.key }) {
            let labels = service.isEmpty ? "" : "{service=\"\(escapeLabel(service))\"}"
            text += "\(name)\(labels) \(number(value))\n"
        }
        return text
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
