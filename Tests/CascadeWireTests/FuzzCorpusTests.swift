import CascadeFuzz
import CascadeTestSupport
import Foundation
import Testing

/// Every input in `Fuzz/corpus/<target>/` (the seeds, and each crash the fuzzers ever found)
/// goes through its target on every test run: a crash fixed stays fixed.
@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    @Test(arguments: FuzzTarget.allCases)
    func corpusRunsClean(target: FuzzTarget) throws {
        let directory = CascadeBinary.packageRoot.appendingPathComponent("Fuzz/corpus/\(target.rawValue)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!files.isEmpty, "a seed corpus for \(target.rawValue)")
        for file in files {
            let data = try #require(FileManager.default.contents(atPath: directory.appendingPathComponent(file).path))
            target.run(Array(data))
        }
    }
}
