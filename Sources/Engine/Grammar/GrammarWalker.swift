// Reference: llama.cpp src/llama-grammar.cpp `llama_grammar_advance_stack` / `llama_grammar_accept`
// (parse stacks of element positions; a rule reference pushes its continuation and each alternative).

/// Advances parse stacks of one `Grammar` by bytes. The stacks live as cells in an arena (a cell = the
/// position on top + the cell below), so pushing shares the rest of the stack and the token-mask walk can
/// throw a whole subtree's stacks away by truncating the arena.
///
/// A stack handle is a cell index; `-1` is the empty stack (the grammar is complete). A live handle's top
/// is always a `.bytes` element ("expanded"), except the empty stack.
///
/// Contract: one owner at a time (not thread-safe); `truncate(to:)` invalidates handles made after the mark.
final class GrammarWalker {
    let grammar: Grammar
    private let elements: [GrammarElement]
    private var position: [Int32] = []   // [cells] top element of the stack headed by each cell
    private var parent: [Int32] = []     // [cells] the cell below (-1: none)
    private var depth: [Int32] = []      // [cells] cells in the stack headed by each cell
    private let maxDepth: Int32
    /// Expansion steps left for the current `advance` / `initialStacks` call; an ambiguous grammar
    /// (`("" | "")` repeated) could otherwise take exponential time before duplicates are merged.
    private var budget = 0
    private let maxWork: Int
    /// Set when a call ran out of `budget` (its output is then incomplete).
    private(set) var overflowed = false

    init(_ grammar: Grammar) {
        self.grammar = grammar
        self.elements = grammar.elements
        self.maxDepth = Int32(clamping: grammar.limits.maxStackDepth)
        self.maxWork = grammar.limits.maxStacks * 16
        position.reserveCapacity(1024)
        parent.reserveCapacity(1024)
        depth.reserveCapacity(1024)
    }

    var mark: Int { position.count }

    func truncate(to mark: Int) {
        position.removeSubrange(mark...)
        parent.removeSubrange(mark...)
        depth.removeSubrange(mark...)
    }

    func reset() { truncate(to: 0) }

    /// Pushes `pos` onto the stack `below`; nil past the depth limit.
    @inline(__always)
    private func push(_ pos: Int32, on below: Int32) -> Int32? {
        let d = below < 0 ? 1 : depth[Int(below)] + 1
        guard d <= maxDepth else { return nil }
        position.append(pos)
        parent.append(below)
        depth.append(d)
        return Int32(position.count - 1)
    }

    /// The expanded stacks the grammar starts with.
    func initialStacks(into out: inout [Int32]) {
        budget = maxWork
        for start in grammar.alternatives[Int(grammar.root)] {
            if let s = push(start, on: -1) { expand(s, into: &out) }
        }
    }

    /// Appends the expanded forms of stack `h` (whose top may be a rule reference or an empty alternative's end).
    func expand(_ h: Int32, into out: inout [Int32]) {
        guard h >= 0 else {
            out.append(-1)
            return
        }
        budget -= 1
        guard budget >= 0 else {
            overflowed = true
            return
        }
        let pos = position[Int(h)]
        switch elements[Int(pos)] {
        case .bytes:
            out.append(h)
        case .end:
            expand(parent[Int(h)], into: &out)
        case .rule(let r):
            let below = parent[Int(h)]
            let next = pos + 1
            let base: Int32
            if elements[Int(next)] == .end {
                base = below   // a tail call: nothing left of this alternative to come back to
            } else {
                guard let b = push(next, on: below) else { return }
                base = b
            }
            for start in grammar.alternatives[Int(r)] {
                if let s = push(start, on: base) { expand(s, into: &out) }
            }
        }
    }

    /// Appends the expanded stacks that `h` becomes after consuming `byte` (none if it cannot).
    @inline(__always)
    func advance(_ h: Int32, _ byte: UInt8, into out: inout [Int32]) {
        guard h >= 0 else { return }
        let pos = position[Int(h)]
        guard case .bytes(let set) = elements[Int(pos)], set.contains(byte) else { return }
        budget = maxWork
        let below = parent[Int(h)]
        let next = pos + 1
        if elements[Int(next)] == .end {
            expand(below, into: &out)
        } else if let s = push(next, on: below) {
            expand(s, into: &out)
        }
    }

    /// Whether stack `h` can consume `byte` (no allocation).
    @inline(__always)
    func accepts(_ h: Int32, _ byte: UInt8) -> Bool {
        guard h >= 0, case .bytes(let set) = elements[Int(position[Int(h)])] else { return false }
        return set.contains(byte)
    }

    /// The stack as element positions, bottom first (`[]` for the empty stack).
    func materialize(_ h: Int32) -> [Int32] {
        var out: [Int32] = []
        var c = h
        while c >= 0 {
            out.append(position[Int(c)])
            c = parent[Int(c)]
        }
        out.reverse()
        return out
    }

    /// Pushes a materialized stack back into the arena; returns its handle.
    func load(_ stack: [Int32]) -> Int32 {
        var h: Int32 = -1
        for pos in stack {
            position.append(pos)
            parent.append(h)
            depth.append(h < 0 ? 1 : depth[Int(h)] + 1)
            h = Int32(position.count - 1)
        }
        return h
    }
}
