@testable import CascadeBench
import Testing

/// `bench e2e --runs N` judges the median of the runs' ratios: one run on a busy machine
/// neither passes nor fails it alone.
@Suite("bench e2e: the median the floor judges")
struct BenchE2EMedianTests {
    @Test("odd counts take the middle run, even ones the mean of the middle two, in any order")
    func median() {
        #expect(BenchE2ECommand.median([1.45]) == 1.45)
        #expect(BenchE2ECommand.median([0.44, 1.45, 1.14]) == 1.14)
        #expect(BenchE2ECommand.median([3.0, 0.5, 1.0, 2.0]) == 1.5)
        #expect(BenchE2ECommand.median([5.7, 0.35, 9.0, 1.2, 1.3]) == 1.3)
    }
}
