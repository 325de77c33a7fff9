import Foundation
import Testing
@testable import Engine

/// Background requests (Batch API work) wait while interactive requests wait, under both admission policies.
@Suite("Generation priority", .serialized)
struct GenerationPriorityTests {
    /// Finish order of three requests on an engine that runs one sequence at a time: A (background) runs
    /// first; B (background) and C (interactive) are queued behind it, B first. The order is the engine's:
    /// each request's finish instant is its submission time plus the `totalSeconds` the scheduler measured
    /// (the order in which the test's consumers drain the streams depends on how busy the machine is).
    /// Returns nil when A had already finished by the time C was queued (on a loaded machine the test's task
    /// can see A's first token only after the engine thread generated all of it): then nothing waited behind A.
    static func finishOrder(policy: SchedulePolicy, cPriority: GenerationPriority) async throws -> [String]? {
        var options = EngineOptions(kvCacheTokens: 4096, maxRunning: 1)
        options.schedulePolicy = policy
        let engine = try InferenceEngine(model: try InferenceEngineTests.load(), options: options)
        defer { engine.shutdown() }
        func request(_ seed: UInt64, _ priority: GenerationPriority, max: Int) -> GenerationRequest {
            var r = InferenceEngineTests.greedy(InferenceEngineTests.prompt(24, seed: seed), max: max)
            r.priority = priority
            return r
        }
        let submittedA = Date()
        let a = engine.submit(request(1, .background, max: 3000))   // long: still running when B and C queue
        let (started, signal) = AsyncStream<Void>.makeStream()
        let runA = Task { () -> GenerationSummary? in
            var first = true, summary: GenerationSummary?
            for try await event in a {
                if first {
                    first = false
                    signal.yield()
                }
                if case .finished(let s) = event { summary = s }
            }
            return summary
        }
        for await _ in started { break }   // A is running
        let submittedB = Date()
        let b = engine.submit(request(2, .background, max: 40))
        let submittedC = Date()
        let c = engine.submit(request(3, cPriority, max: 40))
        async let outB = InferenceEngineTests.collect(b)
        async let outC = InferenceEngineTests.collect(c)
        let sb = try #require(try await outB.summary), sc = try #require(try await outC.summary)
        let sa = try #require(try await runA.value)
        guard submittedA.addingTimeInterval(sa.totalSeconds) > submittedC else { return nil }
        let finished = [("A", submittedA.addingTimeInterval(sa.totalSeconds)),
                        ("B", submittedB.addingTimeInterval(sb.totalSeconds)),
                        ("C", submittedC.addingTimeInterval(sc.totalSeconds))]
        return finished.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// `finishOrder` until B and C really queued behind A (at most 5 tries; nil if they never did, which fails).
    static func orderWithAQueue(policy: SchedulePolicy, cPriority: GenerationPriority) async throws -> [String]? {
        for _ in 0..<5 {
            if let order = try await finishOrder(policy: policy, cPriority: cPriority) { return order }
        }
        Issue.record("A finished before B and C were queued in 5 tries: the premise of the test never held")
        return nil
    }

    @Test("an interactive request overtakes a background one that queued before it", arguments: SchedulePolicy.allCases)
    func interactiveFirst(policy: SchedulePolicy) async throws {
        let order = try await Self.orderWithAQueue(policy: policy, cPriority: .interactive)
        #expect(order == ["A", "C", "B"], "finish order \(String(describing: order))")
    }

    @Test("between background requests the policy's order stands (the control for the test above)",
          arguments: SchedulePolicy.allCases)
    func backgroundInQueueOrder(policy: SchedulePolicy) async throws {
        let order = try await Self.orderWithAQueue(policy: policy, cPriority: .background)
        #expect(order == ["A", "B", "C"], "finish order \(String(describing: order))")
    }
}
