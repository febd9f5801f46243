// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "cascade",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cascade", targets: ["cascade"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP/HTTP only: the default traits would also build gRPC for an exporter we do not use.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "CascadeKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "CascadeWire"),
        // The clients of a running system: a node's RESP client, the bus's admin API, the status
        // file of `cascade dev`, `publish --wait`'s waiter; what the audit, the watcher and the
        // benchmarks share.
        .target(
            name: "CascadeClient",
            dependencies: [
                "CascadeWire", "CascadeRESP",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The consistency audit (`cascade check`), `cascade why`, `cascade warm`.
        .target(name: "CascadeCheck", dependencies: ["CascadeClient", "CascadeWire", "CascadeRESP"]),
        // `cascade check --watch`: follows the invalidation topics, checks a sample of keys on the nodes.
        .target(
            name: "CascadeWatch",
            dependencies: [
                "CascadeCheck", "CascadeClient", "CascadeRESP", "CascadeWire", "CascadeKafka",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // The answers to `cascade graph ...` questions: rows, tables, reports, the --live client.
        .target(name: "CascadeGraphInspect", dependencies: ["CascadeGraph", "CascadeWire", "CascadeClient"]),
        .target(
            name: "CascadeGraph",
            dependencies: [
                "CascadeWire",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "CascadeStore",
            dependencies: [
                "CascadeWire",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "CascadeRESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // What every cache front end runs behind it (the node's RESP server, the gateway's HTTP
        // server): the store wiring, the invalidation consumer, the registration publisher, the reporter.
        .target(
            name: "CascadeCache",
            dependencies: [
                "CascadeWire", "CascadeStore", "CascadeKafka", "CascadeGraph", "CascadeSync", "CascadeTracing",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "CascadeNode",
            dependencies: [
                "CascadeCache", "CascadeWire", "CascadeStore", "CascadeRESP", "CascadeKafka", "CascadeGraph", "CascadeSync",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "CascadeBus",
            dependencies: [
                "CascadeWire", "CascadeGraph", "CascadeKafka", "CascadeSync", "CascadeTracing",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // The API-gateway cache (`cascade gateway`).
        .target(
            name: "CascadeGateway",
            dependencies: [
                "CascadeWire", "CascadeGraph", "CascadeStore", "CascadeKafka", "CascadeCache", "CascadeTracing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A whole system in one process (nodes, gateway, bus instances): what `cascade dev`,
        // the benchmarks of whole cascades and the in-process tests run.
        .target(
            name: "CascadeSystem",
            dependencies: [
                "CascadeBus", "CascadeCache", "CascadeGateway", "CascadeGraph", "CascadeKafka", "CascadeNode", "CascadeSync", "CascadeTracing",
                "CascadeWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Spans and the W3C traceparent they continue, with whatever tracer the process was given.
        .target(name: "CascadeTracing", dependencies: [.product(name: "Tracing", package: "swift-distributed-tracing")]),
        // The OTLP exporter behind `--otlp-endpoint`: the only target that imports swift-otel.
        .target(
            name: "CascadeTelemetry",
            dependencies: [
                "CascadeTracing",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmarks (`cascade bench ...`): harnesses, workloads and their commands.
        .target(
            name: "CascadeBench",
            dependencies: [
                "CascadeKafka", "CascadeWire", "CascadeGraph", "CascadeStore", "CascadeCache", "CascadeNode", "CascadeBus", "CascadeClient", "CascadeRESP",
                "CascadeGateway", "CascadeSync", "CascadeTracing", "CascadeTelemetry", "CascadeProcess", "CascadeSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "cascade",
            dependencies: [
                "CascadeKafka", "CascadeWire", "CascadeGraph", "CascadeStore", "CascadeCache", "CascadeNode", "CascadeBus", "CascadeClient", "CascadeCheck",
                "CascadeBench", "CascadeGateway", "CascadeGraphInspect", "CascadeWatch", "CascadeTelemetry", "CascadeTracing", "CascadeSystem",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // What the fuzzers run (scripts/fuzz.sh); the tests replay the corpus through it.
        .target(
            name: "CascadeFuzz",
            dependencies: ["CascadeRESP", "CascadeWire", "CascadeGraph", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Awaiting a condition on shared state instead of polling it.
        .target(name: "CascadeSync", dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // A child process whose output is awaited line by line: what the tests and the
        // benchmarks run the real binary and real clients with.
        .target(
            name: "CascadeProcess",
            dependencies: ["CascadeSync", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        // Helpers for tests that run the real binary and real clients.
        .target(name: "CascadeTestSupport", dependencies: ["CascadeProcess"]),
        .testTarget(name: "CascadeKafkaTests", dependencies: ["CascadeKafka", "CascadeTestSupport"]),
        .testTarget(name: "CascadeWireTests", dependencies: ["CascadeWire", "CascadeFuzz", "CascadeTestSupport"]),
        .testTarget(name: "CascadeGraphTests", dependencies: ["CascadeGraph", "CascadeTestSupport"]),
        .testTarget(name: "CascadeStoreTests", dependencies: ["CascadeStore"]),
        .testTarget(
            name: "CascadeRESPTests",
            dependencies: [
                "CascadeRESP",
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "CascadeNodeTests", dependencies: ["CascadeNode", "CascadeCache", "CascadeKafka", "CascadeGraph", "CascadeStore", "CascadeTestSupport"]),
        .testTarget(
            name: "CascadeBusTests",
            dependencies: [
                "CascadeBus", "CascadeTracing", "CascadeTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "CascadeCheckTests",
            dependencies: [
                "CascadeCheck", "CascadeClient", "CascadeRESP", "CascadeWire", "CascadeBus", "CascadeGraph", "CascadeTestSupport",
                .product(name: "Yams", package: "Yams"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CascadeBenchTests", dependencies: ["CascadeBench"]),
        .testTarget(
            name: "CascadeSystemTests",
            dependencies: [
                "CascadeSystem", "CascadeBus", "CascadeGraph", "CascadeKafka", "CascadeSync", "CascadeTestSupport", "CascadeWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "CascadeSyncTests",
            dependencies: ["CascadeSync", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(name: "CascadeCLITests", dependencies: ["CascadeWire", "CascadeKafka", "CascadeTestSupport"]),
        .testTarget(
            name: "CascadeGatewayTests",
            dependencies: [
                "CascadeGateway", "CascadeCache", "CascadeTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
    ]
)

// Swift 6 language mode everywhere; the system library has no Swift to check.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
