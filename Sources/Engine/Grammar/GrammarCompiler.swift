// Reference: llama.cpp src/llama-grammar.cpp (`parse_sequence` helper rules for groups and repetitions,
// `llama_grammar_detect_left_recursion`).

/// Flattens `GrammarRules` into a `Grammar`: groups and repetitions become helper rules, character classes
/// become UTF-8 byte sequences, and the result is checked for undefined rules, left recursion and size.
public struct GrammarCompiler {
    private var elements: [GrammarElement] = []
    private var alternatives: [[Int32]] = []
    private var names: [String] = []
    private var index: [String: Int32] = [:]
    private var classRules: [[ClosedRange<UInt32>]: Int32] = [:]
    private let limits: GrammarLimits

    private init(limits: GrammarLimits) {
        self.limits = limits
    }

    /// Compiles `rules` (which must define `root`).
    public static func compile(_ rules: GrammarRules, limits: GrammarLimits = .standard) throws -> Grammar {
        var c = GrammarCompiler(limits: limits)
        for (name, _) in rules.rules { _ = try c.reserve(name) }
        guard let root = c.index["root"] else { throw GrammarError(.undefinedRule, "the grammar has no 'root' rule") }
        for (name, expression) in rules.rules {
            try c.define(c.index[name]!, expression)
        }
        try c.checkLeftRecursion()
        return Grammar(elements: c.elements, alternatives: c.alternatives, ruleNames: c.names, root: root,
                       limits: limits)
    }

    private mutating func reserve(_ name: String) throws -> Int32 {
        guard alternatives.count < limits.maxRules else {
            throw GrammarError(.tooLarge, "the grammar needs more than \(limits.maxRules) rules")
        }
        let id = Int32(alternatives.count)
        alternatives.append([])
        names.append(name)
        if index[name] == nil { index[name] = id }
        return id
    }

    /// Compiles each choice of `expression` into an alternative of rule `id`.
    private mutating func define(_ id: Int32, _ expression: GrammarExpression) throws {
        let choices: [GrammarExpression]
        if case .alternation(let cs) = expression { choices = cs } else { choices = [expression] }
        var bodies: [[GrammarElement]] = []
        for choice in choices {
            var body: [GrammarElement] = []
            try emit(choice, into: &body, owner: id)
            bodies.append(body)
        }
        try define(id, bodies: bodies)
    }

    private mutating func define(_ id: Int32, bodies: [[GrammarElement]]) throws {
        var starts: [Int32] = []
        for body in bodies {
            guard elements.count + body.count + 1 <= limits.maxElements else {
                throw GrammarError(.tooLarge, "the grammar needs more than \(limits.maxElements) elements")
            }
            starts.append(Int32(elements.count))
            elements.append(contentsOf: body)
            elements.append(.end)
        }
        alternatives[Int(id)] = starts
    }

    private mutating func helper(_ owner: Int32, _ choices: [GrammarExpression]) throws -> Int32 {
        let id = try reserve(names[Int(owner)] + "_")
        try define(id, .alternation(choices))
        return id
    }

    private mutating func emit(_ e: GrammarExpression, into body: inout [GrammarElement], owner: Int32) throws {
        guard body.count < limits.maxElements else {
            throw GrammarError(.tooLarge, "the grammar needs more than \(limits.maxElements) elements")
        }
        switch e {
        case .literal(let bytes):
            for b in bytes { body.append(.bytes(ByteSet(b...b))) }
        case .characterClass(let ranges, let negated):
            let scalars = UTF8Ranges.normalize(ranges, negated: negated)
            let sequences = UTF8Ranges.sequences(scalars)
            if sequences.allSatisfy({ $0.count == 1 }) {
                var set = ByteSet()
                for s in sequences { for b in s[0] { set.insert(b) } }
                body.append(.bytes(set))   // an empty set never matches: an empty class is unsatisfiable
            } else if let id = classRules[scalars] {
                body.append(.rule(id))
            } else {
                let id = try reserve(names[Int(owner)] + "_char")
                try define(id, bodies: sequences.map { s in s.map { .bytes(ByteSet($0)) } })
                classRules[scalars] = id
                body.append(.rule(id))
            }
        case .rule(let name):
            guard let id = index[name] else { throw GrammarError(.undefinedRule, "rule '\(name)' is not defined") }
            body.append(.rule(id))
        case .sequence(let parts):
            for p in parts { try emit(p, into: &body, owner: owner) }
        case .alternation(let choices):
            body.append(.rule(try helper(owner, choices)))
        case .repetition(let item, let min, let max):
            guard min <= limits.maxRepetition, (max ?? 0) <= limits.maxRepetition else {
                throw GrammarError(.tooLarge, "repetition bounds are limited to \(limits.maxRepetition)")
            }
            // The repeated item as elements: itself when it is one element, else a helper rule.
            var one: [GrammarElement] = []
            try emit(item, into: &one, owner: owner)
            if one.count != 1 {
                let id = try reserve(names[Int(owner)] + "_")
                try define(id, bodies: [one])
                one = [.rule(id)]
            }
            guard body.count + min <= limits.maxElements else {
                throw GrammarError(.tooLarge, "the grammar needs more than \(limits.maxElements) elements")
            }
            for _ in 0..<min { body.append(one[0]) }
            if let max {
                // opt_k ::= item opt_(k-1) | ""  (nested, so "at most k more" costs k rules)
                var tail: Int32? = nil
                for _ in 0..<(max - min) {
                    let id = try reserve(names[Int(owner)] + "_")
                    try define(id, bodies: [tail.map { [one[0], .rule($0)] } ?? [one[0]], []])
                    tail = id
                }
                if let tail { body.append(.rule(tail)) }
            } else {
                // star ::= item star | ""
                let id = try reserve(names[Int(owner)] + "_")
                try define(id, bodies: [[one[0], .rule(id)], []])
                body.append(.rule(id))
            }
        }
    }

    /// Refuses a rule that can reach itself through a leftmost path of nullable elements: expanding it
    /// would never consume a byte.
    private func checkLeftRecursion() throws {
        let ruleCount = alternatives.count
        var nullable = [Bool](repeating: false, count: ruleCount)
        func bodyRange(_ start: Int32) -> Range<Int> {
            var end = Int(start)
            while elements[end] != .end { end += 1 }
            return Int(start)..<end
        }
        var changed = true
        while changed {
            changed = false
            for r in 0..<ruleCount where !nullable[r] {
                let canBeEmpty = alternatives[r].contains { start in
                    bodyRange(start).allSatisfy { i in
                        if case .rule(let s) = elements[i] { return nullable[Int(s)] }
                        return false
                    }
                }
                if canBeEmpty {
                    nullable[r] = true
                    changed = true
                }
            }
        }
        // Edges: r -> s when s can be the first thing r expands to.
        var edges = [[Int32]](repeating: [], count: ruleCount)
        for r in 0..<ruleCount {
            for start in alternatives[r] {
                for i in bodyRange(start) {
                    guard case .rule(let s) = elements[i] else { break }
                    edges[r].append(s)
                    if !nullable[Int(s)] { break }
                }
            }
        }
        // Iterative DFS with colours (0 new, 1 on the path, 2 done).
        var colour = [UInt8](repeating: 0, count: ruleCount)
        for start in 0..<ruleCount where colour[start] == 0 {
            var stack: [(rule: Int, next: Int)] = [(start, 0)]
            colour[start] = 1
            while let top = stack.last {
                if top.next < edges[top.rule].count {
                    stack[stack.count - 1].next += 1
                    let s = Int(edges[top.rule][top.next])
                    if colour[s] == 1 {
                        throw GrammarError(.leftRecursion,
                            "rule '\(names[s])' is left-recursive (it can expand to itself without consuming input)")
                    }
                    if colour[s] == 0 {
                        colour[s] = 1
                        stack.append((s, 0))
                    }
                } else {
                    colour[top.rule] = 2
                    stack.removeLast()
                }
            }
        }
    }
}
