import ArgumentParser

@main
struct Cascade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cascade",
        abstract: "Cache invalidation over Kafka: dependency graph, bus, and Redis-protocol cache nodes.",
        subcommands: [
            KafkaCommand.self,
            GraphCommand.self,
            NodeCommand.self,
            BusCommand.self,
            BenchCommand.self,
        ]
    )
}
