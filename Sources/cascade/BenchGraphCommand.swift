import ArgumentParser

struct BenchGraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph", abstract: "Instance-graph registrations and closure latency.")
}
