import Foundation
import Testing

@Suite struct NodeMemoryBudgetTests {
    /// Writing twice the budget evicts instead of growing: resident memory stays near it.
    /// Not under a sanitizer (`make test-sanitize`): its shadow memory and quarantine are most
    /// of the resident set there.
    @Test(.disabled(if: ProcessInfo.processInfo.environment["CASCADE_SANITIZER"] != nil, "resident memory is the sanitizer's"))
    func writingTwiceTheBudgetKeepsResidentMemoryNearIt() async throws {
        let budgetMB = 32
        let node = try await RunningNode.start(["--max-memory", "\(budgetMB)mb", "--threads", "1"])
        let baselineKB = node.residentKilobytes
        let value = String(repeating: "x", count: 100)
        // ~500k keys × ~150 bytes ≈ 2.3 × the budget.
        var batch = ""
        for index in 0..<500_000 {
            batch += "SET key:\(String(format: "%012d", index)) \(value)\n"
        }
        _ = try await node.cli.run(["--pipe"], stdin: batch)
        let grownKB = node.residentKilobytes - baselineKB
        let keys = Int(try await node.cli("DBSIZE")) ?? 0
        #expect(keys > 100_000 && keys < 500_000, "keys \(keys)")
        #expect(grownKB < budgetMB * 1024 * 13 / 10, "grew \(grownKB) kB for a \(budgetMB) MB budget")
        try await node.stop()
    }
}
