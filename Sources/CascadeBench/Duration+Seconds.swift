/// A duration as seconds, for the benchmarks' rates and tables.
extension Duration {
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
