import Foundation
import Testing
@testable import Engine

/// Background requests (Batch API work) wait while interactive requests wait, under both admission policies.
@Suite("Generation priority", .serialized)
struct GenerationPriorityTests {
    /// Finish order of three requests on an engine that runs one sequence at a time: A (background) runs
    /// first; B (background) and C (interactive) are queued behind it, B first.
    static func finishOrder(policy: SchedulePolicy, cPriority: GenerationPriority) async throws -> [String] {
        var options = EngineOptions(kvCacheTokens: 4096, maxRunning: 1)
        options.schedulePolicy = policy
        let engine = try InferenceEngine(model: try InferenceEngineTests.load(), options: options)
        defer { engine.shutdown() }
        func request(_ seed: UInt64, _ priority: GenerationPriority, max: Int) -> GenerationRequest {
            var r = InferenceEngineTests.greedy(InferenceEngineTests.prompt(24, seed: seed), max: max)
            r.priority = priority
            return r
        }
        let order = Order()
        let a = engine.submit(request(1, .background, max: 1500))   // long: still running when B and C queue
        let (started, signal) = AsyncStream<Void>.makeStream()
        let runA = Task {
            var first = true
            for try await _ in a where first {
                first = false
                signal.yield()
            }
            await order.append("A")
        }
        for await _ in started { break }   // A is running
        let b = engine.submit(request(2, .background, max: 4))
        let c = engine.submit(request(3, cPriority, max: 4))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await InferenceEngineTests.collect(b)
                await order.append("B")
            }
            group.addTask {
                _ = try await InferenceEngineTests.collect(c)
                await order.append("C")
            }
            try await group.waitForAll()
        }
        try await runA.value
        return await order.names
    }

    actor Order {
        var names: [String] = []
        func append(_ name: String) { names.append(name) }
    }

    @Test("an interactive request overtakes a background one that queued before it", arguments: SchedulePolicy.allCases)
    func interactiveFirst(policy: SchedulePolicy) async throws {
        #expect(try await Self.finishOrder(policy: policy, cPriority: .interactive) == ["A", "C", "B"])
    }

    @Test("between background requests the policy's order stands (the control for the test above)",
          arguments: SchedulePolicy.allCases)
    func backgroundInQueueOrder(policy: SchedulePolicy) async throws {
        #expect(try await Self.finishOrder(policy: policy, cPriority: .background) == ["A", "B", "C"])
    }
}
