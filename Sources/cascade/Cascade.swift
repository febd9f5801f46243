import ArgumentParser
import Foundation

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
            GatewayCommand.self,
            DevCommand.self,
            PublishCommand.self,
            CheckCommand.self,
            WhyCommand.self,
            WarmCommand.self,
            BenchCommand.self,
        ]
    )

    /// Runs the command; usage mistakes and `CLIError`s exit 2 with one plain sentence, so
    /// scripts can tell them from a command's own findings (exit 1).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(2)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
