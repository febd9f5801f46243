import ArgumentParser
import CascadeBench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Performance figures, each printed next to its baseline.",
        subcommands: [
            BenchKafkaCommand.self, BenchGraphCommand.self, BenchBusCommand.self, BenchE2ECommand.self, BenchReadsCommand.self,
            BenchChaosCommand.self, BenchTTLCommand.self, BenchGatewayCommand.self, BenchUpstreamCommand.self, BenchRebuildCommand.self,
            BenchScaleCommand.self,
        ]
    )
}
