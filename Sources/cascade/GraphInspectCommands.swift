import ArgumentParser
import CascadeGraph
import Foundation

struct GraphValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check every service file; list all errors and warnings with file:line:column.")

    @OptionGroup var options: GraphOptions

    struct Report: Codable {
        var valid: Bool
        var errors: [String]
        var warnings: [String]
        var services: Int
        var entities: Int
        var families: Int
        var edges: [String: Int]
        var cycles: Int
    }

    func run() async throws {
        let result: GraphLoadResult
        do {
            result = try GraphLoader.load(directory: options.directory)
        } catch {
            GraphOutput.fail("\(error).")
            throw ExitCode(2)
        }
        let analysis = result.graph.map(GraphAnalysis.init)
        var counts: [String: Int] = [:]
        for edge in analysis?.edges ?? [] { counts[edge.kind.rawValue, default: 0] += 1 }
        let report = Report(
            valid: result.graph != nil, errors: result.errors.map(\.description), warnings: result.warnings.map(\.description),
            services: result.graph?.services.count ?? 0, entities: result.graph?.entities.count ?? 0,
            families: result.graph?.families.count ?? 0, edges: counts, cycles: analysis?.cycles.count ?? 0)
        if options.json {
            print(GraphExport.encode(report))
        } else {
            for diagnostic in result.diagnostics { GraphOutput.error(diagnostic.description) }
            if report.valid {
                let edges = ["primary", "secondary", "circular"].map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
                print("\(options.directory) is valid: \(report.services) services, \(report.entities) entities, \(report.families) cache families, \(edges) dependencies, \(report.cycles) cycle(s), \(report.warnings.count) warning(s).")
            } else {
                GraphOutput.error("\(options.directory) has \(report.errors.count) error(s) and \(report.warnings.count) warning(s).")
            }
        }
        if !report.valid { throw ExitCode(1) }
    }
}

struct GraphShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List services, entities and cache families with their dependencies.")

    @OptionGroup var options: GraphOptions

    func run() async throws {
        let (graph, _) = try options.load()
        let analysis = GraphAnalysis(graph)
        if options.json {
            print(GraphExport.json(analysis))
            return
        }
        var services = [["SERVICE", "TIER", "OWNS", "FILE"]]
        for name in graph.serviceNames {
            guard let service = graph.services[name] else { continue }
            services.append([name, service.tier.rawValue, service.owns.joined(separator: ", "), service.file])
        }
        var entities = [["ENTITY", "OWNER", "ATTRS", "CONFLICT POLICY"]]
        for name in graph.entityNames {
            guard let entity = graph.entities[name] else { continue }
            entities.append([name, entity.owner, entity.attributes.joined(separator: ", "), entity.policy.description])
        }
        var families = [["FAMILY", "KEY", "TTL", "DEPENDS ON"]]
        for id in graph.familyIDs {
            guard let family = graph.families[id] else { continue }
            let dependencies = analysis.directDependencies(of: id).map { "\($0.target) [\($0.kind.rawValue), \(GraphExport.modeText($0.mode))]" }
            families.append([
                id.description, family.template.text, family.ttlMillis.map { TTLDuration.format(milliseconds: $0) } ?? "-",
                dependencies.isEmpty ? "-" : dependencies.joined(separator: "; "),
            ])
        }
        print([GraphOutput.table(services), GraphOutput.table(entities), GraphOutput.table(families)].joined(separator: "\n\n"))
    }
}

struct GraphCyclesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cycles", abstract: "List the circular components (strongly connected) and their edges.")

    @OptionGroup var options: GraphOptions

    struct Cycle: Codable {
        var families: [String]
        var edges: [String]
    }

    func run() async throws {
        let (graph, _) = try options.load()
        let analysis = GraphAnalysis(graph)
        let cycles = analysis.cycles.map { component in
            Cycle(
                families: component.map(\.description),
                edges: analysis.edges.filter { $0.kind == .circular && component.contains($0.dependent) }
                    .map { "\($0.target) -> \($0.dependent) (\(GraphExport.modeText($0.mode)))" })
        }
        if options.json {
            print(GraphExport.encode(cycles))
            return
        }
        if cycles.isEmpty {
            print("no cycles")
            return
        }
        for (number, cycle) in cycles.enumerated() {
            print("cycle \(number + 1): \(cycle.families.joined(separator: ", "))")
            for edge in cycle.edges { print("  \(edge)") }
        }
    }
}
