import CascadeCheck
import CascadeClient
import Testing

@Suite struct WarmRecordTests {
    @Test func aFullLineBecomesSetWithExAndDeps() throws {
        let record = try WarmRecord.parse(#"{"key":"product:p-17","value":"{\"name\":\"x\"}","ttl":600,"deps":["Product#p-17@41"]}"#).get()
        #expect(record == WarmRecord(key: "product:p-17", value: Array(#"{"name":"x"}"#.utf8), ttlSeconds: 600, deps: ["Product#p-17@41"]))
        #expect(record.command == encodeRESPCommand("SET", "product:p-17", #"{"name":"x"}"#, "EX", "600", "DEPS", "Product#p-17@41"))
    }

    @Test func ttlAndDepsMayBeLeftOutAndANonStringValueIsStoredAsJSON() throws {
        let record = try WarmRecord.parse(#"{"key":"k","value":{"b":1,"a":[true]}}"#).get()
        #expect(record.command == encodeRESPCommand("SET", "k", #"{"a":[true],"b":1}"#))
    }

    @Test(arguments: [
        ("not json", "is not a JSON object"), (#"{"value":"v"}"#, "no \"key\""), (#"{"key":"k"}"#, "no \"value\""),
        (#"{"key":"k","value":"v","ttl":-1}"#, "positive"), (#"{"key":"k","value":"v","ttl":1.5}"#, "whole number"),
        (#"{"key":"k","value":"v","deps":"P#1"}"#, "list of strings"),
    ])
    func badLinesSayWhatIsWrong(_ line: String, _ fragment: String) {
        guard case .failure(let error) = WarmRecord.parse(line[...]) else { Issue.record("accepted \(line)"); return }
        #expect(error.description.contains(fragment), "\(error)")
    }
}
