import CascadeSync
import Testing

@Suite struct HookTests {
    @Test func callsWhatWasInstalledAndNothingBefore() {
        let hook = Hook<Int, Int>()
        #expect(hook(1) == nil)
        hook.install { $0 * 2 }
        #expect(hook(21) == 42)
        hook.install { $0 + 1 }
        #expect(hook(1) == 2)
    }
}
