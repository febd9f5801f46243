import CascadeGraph
import Testing

@Suite struct TemplateAndDurationTests {
    @Test func templateRendersAndMatches() throws {
        let template = try KeyTemplate(parsing: "order:{orderId}:line:{line}")
        #expect(template.parameters == ["orderId", "line"])
        #expect(template.render(["orderId": "o-9", "line": "2"]) == "order:o-9:line:2")
        #expect(template.match("order:o-9:line:2") == ["orderId": "o-9", "line": "2"])
        #expect(template.match("order::line:2") == nil)
        #expect(template.match("user:o-9:line:2") == nil)
        #expect(throws: KeyTemplate.ParseError.adjacentParameters("b", "a")) { try KeyTemplate(parsing: "{a}{b}") }
        #expect(throws: KeyTemplate.ParseError.repeatedParameter("a")) { try KeyTemplate(parsing: "{a}:{a}") }
    }

    @Test(arguments: [("30s", 30_000), ("10m", 600_000), ("1h", 3_600_000), ("1h30m", 5_400_000), ("2d", 172_800_000), ("250ms", 250)] as [(String, Int64)])
    func durationsParse(text: String, millis: Int64) {
        #expect(TTLDuration.milliseconds(text) == millis)
        #expect(TTLDuration.milliseconds(TTLDuration.format(milliseconds: millis)) == millis)
    }

    @Test(arguments: ["", "10", "m", "10x", "0s", "-5m", "1.5h", "10 m"])
    func badDurationsAreRefused(text: String) {
        #expect(TTLDuration.milliseconds(text) == nil)
    }

    @Test func iterativeSCCHandlesADeepChain() {
        // A 200,000-long chain closed into one cycle: recursion would overflow the stack.
        let count = 200_000
        let components = stronglyConnectedComponents(count: count) { [($0 + 1) % count] }
        #expect(components.count == 1)
        #expect(components[0].count == count)
        let chain = stronglyConnectedComponents(count: count) { $0 + 1 < count ? [$0 + 1] : [] }
        #expect(chain.count == count)
        #expect(chain.first == [count - 1])
    }
}
