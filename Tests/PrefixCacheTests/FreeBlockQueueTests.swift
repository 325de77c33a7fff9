import Testing
@testable import PrefixCache

@Suite("Free block queue (intrusive doubly linked list)")
struct FreeBlockQueueTests {
    @Test func emptyQueueHasNoEnds() {
        var queue = FreeBlockQueue(capacity: 4)
        #expect(queue.isEmpty)
        #expect(queue.first == nil && queue.last == nil)
        #expect(queue.popFirst() == nil)
        #expect(queue.elements.isEmpty && queue.elementsReversed.isEmpty)
    }

    @Test func appendKeepsFIFOOrderInBothDirections() {
        var queue = FreeBlockQueue(capacity: 8)
        for id in [5, 2, 7, 0] { queue.append(id) }
        #expect(queue.elements == [5, 2, 7, 0])
        #expect(queue.elementsReversed == [0, 7, 2, 5])
        #expect(queue.first == 5 && queue.last == 0 && queue.count == 4)
        #expect(queue.popFirst() == 5)
        #expect(queue.popFirst() == 2)
        #expect(queue.elements == [7, 0])
    }

    @Test(arguments: [0, 1, 2])
    func removeRelinksNeighbours(position: Int) {
        var queue = FreeBlockQueue(capacity: 3)
        for id in 0..<3 { queue.append(id) }
        queue.remove(position)
        let rest = [0, 1, 2].filter { $0 != position }
        #expect(queue.elements == rest)
        #expect(queue.elementsReversed == rest.reversed())
        #expect(!queue.contains(position))
        #expect(queue.count == 2)
        queue.append(position)  // a removed id can be re-linked at the tail
        #expect(queue.elements == rest + [position])
    }

    @Test func removingTheOnlyElementEmptiesTheQueue() {
        var queue = FreeBlockQueue(capacity: 2)
        queue.append(1)
        queue.remove(1)
        #expect(queue.isEmpty && queue.first == nil && queue.last == nil)
        queue.append(0)
        #expect(queue.elements == [0] && queue.elementsReversed == [0])
    }

    @Test func randomOperationsMatchAReferenceArray() {
        var rng = SplitMix64(seed: 7)
        var queue = FreeBlockQueue(capacity: 64)
        var model: [Int] = []
        for _ in 0..<5_000 {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let candidates = (0..<64).filter { !model.contains($0) }
                if let id = candidates.randomElement(using: &rng) {
                    queue.append(id)
                    model.append(id)
                }
            case 1:
                #expect(queue.popFirst() == model.first)
                if !model.isEmpty { model.removeFirst() }
            default:
                if let id = model.randomElement(using: &rng) {
                    queue.remove(id)
                    model.removeAll { $0 == id }
                }
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first && queue.last == model.last)
            for id in 0..<64 where queue.contains(id) != model.contains(id) {
                Issue.record("membership of \(id) is wrong")
            }
        }
        #expect(queue.elements == model)
        #expect(queue.elementsReversed == model.reversed())
    }
}
