import CascadeTestSupport
import Foundation
import Testing
import Yams

/// docker-compose.yml, the Dockerfile and deploy/ cannot run here (no Docker), so this reads them
/// and holds every command, flag, port and path they name against the real binary and the repo.
@Suite struct ComposeFileTests {
    let root = CascadeBinary.packageRoot

    struct Service {
        var name: String
        var fields: [String: Any]
        var command: [String] { (fields["command"] as? [Any])?.compactMap { $0 as? String } ?? [] }
        var isCascade: Bool { (fields["image"] as? String)?.hasPrefix("cascade") == true || fields["build"] != nil }
        var portMappings: [(host: Int, container: Int)] {
            ((fields["ports"] as? [Any]) ?? []).compactMap { entry in
                let parts = String(describing: entry).split(separator: ":").compactMap { Int($0) }
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }
        }
        var environment: [String: String] {
            ((fields["environment"] as? [String: Any]) ?? [:]).mapValues { String(describing: $0) }
        }
        /// The value after `--flag` in the command.
        func flag(_ name: String) -> String? {
            guard let index = command.firstIndex(of: name), index + 1 < command.count else { return nil }
            return command[index + 1]
        }
        var healthcheck: String {
            guard let health = fields["healthcheck"] as? [String: Any] else { return "" }
            return ((health["test"] as? [Any]) ?? []).map { String(describing: $0) }.joined(separator: " ")
        }
    }

    func services() throws -> [String: Service] {
        let text = try String(contentsOf: root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(document["services"] as? [String: Any])
        return Dictionary(uniqueKeysWithValues: services.compactMap { name, value in
            (value as? [String: Any]).map { (name, Service(name: name, fields: $0)) }
        })
    }

    /// The long flags a subcommand's `--help` lists.
    func flags(of subcommand: String) async throws -> Set<String> {
        let result = try await runCommand(CascadeBinary.url.path, [subcommand, "--help"])
        #expect(result.status == 0, "cascade \(subcommand) --help: \(result.stderr)")
        let tokens = result.stdout.split { !($0.isLetter || $0.isNumber || $0 == "-") }
        return Set(tokens.filter { $0.hasPrefix("--") }.map(String.init))
    }

    @Test func everyCascadeCommandNamesARealSubcommandAndRealFlags() async throws {
        let services = try services()
        let cascade = services.values.filter(\.isCascade)
        #expect(Set(cascade.map(\.name)) == ["bus", "bus-2", "user-service", "product-service", "order-service", "analytics-service", "check", "watch"])
        var known: [String: Set<String>] = [:]
        for service in cascade {
            let subcommand = try #require(service.command.first, "\(service.name) has no command")
            if known[subcommand] == nil { known[subcommand] = try await flags(of: subcommand) }
            let accepted = known[subcommand] ?? []
            #expect(!accepted.isEmpty, "cascade \(subcommand) is not a subcommand")
            for argument in service.command.dropFirst() where argument.hasPrefix("--") {
                let name = String(argument.split(separator: "=", maxSplits: 1)[0])
                #expect(accepted.contains(name), "\(service.name): cascade \(subcommand) has no \(name)")
            }
        }
    }

    @Test func portsHealthchecksAndKafkaAddressesAgreeWithTheFlags() throws {
        let services = try services()
        var hostPorts: [Int] = []
        for service in services.values {
            hostPorts += service.portMappings.map(\.host)
            guard service.isCascade else { continue }
            let listening = ["--port", "--admin-port", "--metrics-port"].compactMap { service.flag($0).flatMap(Int.init) }
            for mapping in service.portMappings {
                #expect(listening.contains(mapping.container), "\(service.name) publishes \(mapping.container), which it does not listen on")
                let host = service.command.first == "bus" ? service.flag("--admin-host") : service.flag("--host")
                #expect(host == "0.0.0.0", "\(service.name) publishes a port but listens on \(host ?? "127.0.0.1") only")
            }
            if let port = service.flag("--port") ?? service.flag("--admin-port") {
                #expect(service.healthcheck.contains("/\(port)") || service.healthcheck.contains(":\(port)/"),
                        "\(service.name)'s healthcheck does not probe port \(port)")
            }
            if let kafka = service.flag("--kafka") {
                for address in kafka.split(separator: ",") {
                    let parts = address.split(separator: ":")
                    let broker = try #require(services[String(parts[0])], "\(service.name) names Kafka at \(address), no such service")
                    let listeners = broker.environment["KAFKA_LISTENERS"] ?? ""
                    let advertised = broker.environment["KAFKA_ADVERTISED_LISTENERS"] ?? ""
                    #expect(listeners.contains(":\(parts[1])") && advertised.contains("//\(address)"), "\(address) is not a listener of \(broker.name)")
                }
            }
        }
        #expect(Set(hostPorts).count == hostPorts.count, "a host port is published twice: \(hostPorts.sorted())")
        let kafka = try #require(services["kafka"])
        #expect((kafka.fields["image"] as? String ?? "").hasPrefix("apache/kafka:"))
        #expect(kafka.environment["KAFKA_PROCESS_ROLES"] == "broker,controller")
        for mapping in kafka.portMappings {
            #expect((kafka.environment["KAFKA_LISTENERS"] ?? "").contains(":\(mapping.container)"))
        }
    }

    @Test func thereIsOneNodePerServiceOfTheGraph() throws {
        let graph = root.appendingPathComponent("graph")
        let files = try FileManager.default.contentsOfDirectory(atPath: graph.path).filter { $0.hasSuffix(".yaml") }
        let declared = try Set(files.map { file in
            let text = try String(contentsOf: graph.appendingPathComponent(file), encoding: .utf8)
            return try #require((try Yams.load(yaml: text) as? [String: Any])?["service"] as? String)
        })
        let nodes = try services().values.filter { $0.command.first == "node" }
        #expect(Set(nodes.compactMap { $0.flag("--service") }) == declared)
        for node in nodes { #expect(node.name == node.flag("--service"), "compose service \(node.name) runs another service's node") }
    }

    @Test func prometheusAndTheCheckConfigPointAtRealServicesAndPorts() throws {
        let services = try services()
        let text = try String(contentsOf: root.appendingPathComponent("deploy/prometheus.yml"), encoding: .utf8)
        let config = try #require(try Yams.load(yaml: text) as? [String: Any])
        let jobs = try #require(config["scrape_configs"] as? [[String: Any]])
        let targets = jobs.flatMap { job in
            ((job["static_configs"] as? [[String: Any]]) ?? []).flatMap { ($0["targets"] as? [String]) ?? [] }
        }
        for target in targets {
            let parts = target.split(separator: ":")
            let service = try #require(services[String(parts[0])], "Prometheus scrapes \(target), no such service")
            let metrics = service.command.first == "bus" ? service.flag("--admin-port") : service.flag("--metrics-port")
            #expect(metrics == String(parts[1]), "\(target) is not \(service.name)'s metrics port")
        }
        let scraped = Set(targets.map { String($0.split(separator: ":")[0]) })
        // The bus, every node and the consistency watcher (cascade check --watch).
        #expect(scraped == Set(services.values.filter { ["bus", "node"].contains($0.command.first) || $0.command.contains("--watch") }.map(\.name)))
        let prometheus = try #require(services["prometheus"])
        for volume in (prometheus.fields["volumes"] as? [String]) ?? [] where volume.hasPrefix("./") {
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(String(volume.split(separator: ":")[0])).path))
        }

        let check = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("deploy/check.json"))) as? [String: Any])
        let admin = try #require(check["admin"] as? String)
        #expect(admin == "http://bus:\(services["bus"]?.flag("--admin-port") ?? "?")")
        for (name, address) in (check["nodes"] as? [String: String]) ?? [:] {
            #expect(address == "\(name):\(services[name]?.flag("--port") ?? "?")", "check.json: \(name) at \(address)")
        }
    }

    /// Alert rules and the dashboard name only metrics the code exports (a histogram's
    /// `_bucket` series included), and compose mounts files that exist.
    @Test func alertsAndDashboardNameRealMetrics() throws {
        let sources = root.appendingPathComponent("Sources")
        var code = ""
        for case let file as String in FileManager.default.enumerator(atPath: sources.path) ?? NSEnumerator() where file.hasSuffix(".swift") {
            code += try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
        }
        for path in ["deploy/alerts.yml", "deploy/grafana/dashboards/cascade.json"] {
            let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            let names = Set(text.split { !($0.isLetter || $0.isNumber || $0 == "_") }.filter { $0.hasPrefix("cascade_") && !$0.hasSuffix("_") }.map(String.init))
            #expect(!names.isEmpty)
            for name in names {
                var base = name
                for suffix in ["_bucket", "_sum", "_count"] where base.hasSuffix(suffix) { base = String(base.dropLast(suffix.count)) }
                #expect(code.contains("\"\(base)\""), "\(path) names \(name), which no code exports")
            }
        }
        let alerts = try #require(try Yams.load(yaml: String(contentsOf: root.appendingPathComponent("deploy/alerts.yml"), encoding: .utf8)) as? [String: Any])
        #expect(((alerts["groups"] as? [Any]) ?? []).count >= 4)
        for service in try services().values {
            for volume in (service.fields["volumes"] as? [String]) ?? [] where volume.hasPrefix("./") {
                let source = String(volume.split(separator: ":")[0])
                #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(source).path), "\(service.name) mounts \(source)")
            }
        }
    }

    @Test func theDockerfileCopiesPathsThatExistAndBuildsTheRealProduct() throws {
        let dockerfile = try String(contentsOf: root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let lines = dockerfile.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var destinations: [String] = []
        for line in lines where line.hasPrefix("COPY ") {
            let words = line.split(separator: " ").dropFirst().map(String.init)
            guard let destination = words.last else { continue }
            destinations.append(destination)
            if words.contains(where: { $0.hasPrefix("--from") }) { continue }
            for source in words.dropLast() {
                let matches = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { name in
                    source.hasSuffix("*") ? name.hasPrefix(String(source.dropLast())) : name == source.split(separator: "/")[0]
                }
                #expect(!matches.isEmpty, "Dockerfile copies \(source), which is not in the repository")
                #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(source).path) || source.hasSuffix("*"))
            }
        }
        let package = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(dockerfile.contains("--product cascade") && package.contains(#".executable(name: "cascade""#))
        #expect(dockerfile.contains("librdkafka-dev") && dockerfile.contains("librdkafka1"))
        #expect(lines.contains(#"ENTRYPOINT ["cascade"]"#))
        // Paths the compose commands read inside the image are put there by the Dockerfile.
        for service in try services().values where service.isCascade {
            for argument in service.command where argument.hasPrefix("/etc/cascade") {
                #expect(destinations.contains(argument), "\(service.name) reads \(argument), which the image does not have")
            }
        }
    }
}
