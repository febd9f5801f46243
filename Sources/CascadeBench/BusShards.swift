import Foundation

/// `GET /shards` of a `cascade bus`, the parts the benchmarks read.
struct BusShards: Decodable {
    struct Instance: Decodable {
        var instance: String
        var live: Bool
        var ready: Bool
        var owned: [String]
        var isSelf: Bool
        var registrations: Int
        /// The answering instance only.
        var indexBytes: Int?
        /// With `--partitioned-state` only.
        var warmPartitions: [String]?

        enum CodingKeys: String, CodingKey {
            case instance, live, ready, owned, registrations
            case isSelf = "self", indexBytes = "index_bytes", warmPartitions = "warm_partitions"
        }

        /// `owned` as partition numbers.
        var partitions: [Int] { Self.numbers(owned).sorted() }

        /// `warm_partitions` as partition numbers.
        var warmNumbers: [Int32] { Self.numbers(warmPartitions ?? []).map(Int32.init) }

        /// `topic:partition` names as their partition numbers.
        private static func numbers(_ names: [String]) -> [Int] {
            names.compactMap { name in name.lastIndex(of: ":").flatMap { Int(name[name.index(after: $0)...]) } }
        }
    }

    var instances: [Instance]
    var unowned: [String]

    /// What the instance that answered owns.
    var owned: [Int] { instances.first(where: \.isSelf)?.partitions ?? [] }

    static func fetch(admin: String) async -> BusShards? {
        let body = await chaosHTTPGet(admin + "/shards").body
        return try? JSONDecoder().decode(BusShards.self, from: Data(body.utf8))
    }
}
