import ArgumentParser

struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus", abstract: "Run the invalidation bus: events in, cascades out.")
}
