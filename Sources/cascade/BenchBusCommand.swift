import ArgumentParser

struct BenchBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus", abstract: "Bus throughput and resolution latency, next to a pass-through.")
}
