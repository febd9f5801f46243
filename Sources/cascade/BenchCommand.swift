import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Performance figures, each printed next to its baseline.",
        subcommands: [
            BenchKafkaCommand.self, BenchGraphCommand.self, BenchBusCommand.self, BenchE2ECommand.self, BenchGatewayCommand.self,
            BenchUpstreamCommand.self,
        ]
    )
}
