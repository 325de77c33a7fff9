import Foundation
import NumericCore

/// Approximate nearest-neighbour search with a Hierarchical Navigable Small World graph.
///
/// Reference: Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
/// Hierarchical Navigable Small World graphs" (2016/2018): Algorithm 1 (insert), Algorithm 2 (search
/// layer), Algorithm 4 (neighbour-selection heuristic), Algorithm 5 (k-NN search); parameter names
/// follow hnswlib (`M`, `efConstruction`, `ef`).
///
/// NOTE: removal marks the node deleted (it still routes searches, it is never returned); when deleted
/// nodes outnumber live ones the graph is rebuilt from the live vectors. Levels come from a seeded
/// SplitMix64, so a build is reproducible.
public struct HNSWIndex: VectorIndex {
    public let dimension: Int
    public let m: Int
    public let efConstruction: Int
    /// Candidate-list size at query time (>= k); larger is slower and more accurate.
    public var efSearch: Int

    private var vectors: [Float] = []       // [nodes, dimension]
    private var nodeIds: [Int] = []         // [nodes]: external id
    private var deleted: [Bool] = []        // [nodes]
    private var links: [[[Int32]]] = []     // [nodes][level 0...nodeLevel]: neighbour nodes
    private var nodeOf: [Int: Int] = [:]    // live external id -> node
    private var entryPoint = -1
    private var maxLevel = -1
    private var rngState: UInt64
    private let levelMultiplier: Double

    public init(dimension: Int, m: Int = 16, efConstruction: Int = 100, efSearch: Int = 64, seed: UInt64 = 0x5EED) {
        precondition(dimension > 0 && m >= 2, "invalid HNSW parameters")
        self.dimension = dimension
        self.m = m
        self.efConstruction = max(efConstruction, m)
        self.efSearch = efSearch
        self.rngState = seed
        self.levelMultiplier = 1 / log(Double(m))
    }

    public var count: Int { nodeOf.count }

    public mutating func add(id: Int, vector: [Float]) {
        precondition(vector.count == dimension, "vector has \(vector.count) dims, index has \(dimension)")
        if nodeOf[id] != nil { remove(id: id) }
        let node = nodeIds.count
        let level = randomLevel()
        vectors.append(contentsOf: vector)
        nodeIds.append(id)
        deleted.append(false)
        links.append(Array(repeating: [], count: level + 1))
        nodeOf[id] = node
        guard entryPoint >= 0 else {
            entryPoint = node
            maxLevel = level
            return
        }
        var ep = entryPoint
        if maxLevel > level {
            for l in stride(from: maxLevel, to: level, by: -1) { ep = greedyClosest(node: node, from: ep, level: l) }
        }
        for l in stride(from: min(level, maxLevel), through: 0, by: -1) {
            let candidates = searchLayer(queryNode: node, query: nil, entries: [ep], ef: efConstruction, level: l)
            let neighbours = selectNeighbours(candidates, max: m)
            links[node][l] = neighbours.map { Int32($0) }
            let limit = l == 0 ? 2 * m : m
            for n in neighbours {
                links[n][l].append(Int32(node))
                if links[n][l].count > limit {
                    let scored = links[n][l].map { (node: Int($0), score: similarity(n, Int($0))) }
                        .sorted { $0.score > $1.score }
                    links[n][l] = selectNeighbours(scored, max: limit).map { Int32($0) }
                }
            }
            ep = candidates[0].node
        }
        if level > maxLevel {
            entryPoint = node
            maxLevel = level
        }
    }

    public mutating func remove(id: Int) {
        guard let node = nodeOf.removeValue(forKey: id) else { return }
        deleted[node] = true
        let dead = nodeIds.count - nodeOf.count
        if dead > 64, dead > nodeOf.count { rebuild() }
    }

    public func search(_ query: [Float], k: Int) -> [(id: Int, score: Float)] {
        precondition(query.count == dimension, "query has \(query.count) dims, index has \(dimension)")
        guard k > 0, entryPoint >= 0, !nodeOf.isEmpty else { return [] }
        var ep = entryPoint
        if maxLevel > 0 {
            for l in stride(from: maxLevel, through: 1, by: -1) { ep = greedyClosest(query: query, from: ep, level: l) }
        }
        let found = searchLayer(queryNode: nil, query: query, entries: [ep], ef: max(efSearch, k), level: 0)
        var out: [(id: Int, score: Float)] = []
        for candidate in found where !deleted[candidate.node] {
            out.append((nodeIds[candidate.node], candidate.score))
            if out.count == k { break }
        }
        return out
    }

    public func allVectors() -> [(id: Int, vector: [Float])] {
        nodeOf.map { id, node in (id, Array(vectors[node * dimension..<(node + 1) * dimension])) }
    }

    // MARK: - Graph internals

    private mutating func rebuild() {
        let live = allVectors().sorted { $0.id < $1.id }
        var fresh = HNSWIndex(dimension: dimension, m: m, efConstruction: efConstruction, efSearch: efSearch, seed: rngState)
        for (id, vector) in live { fresh.add(id: id, vector: vector) }
        self = fresh
    }

    private mutating func randomLevel() -> Int {
        // SplitMix64 -> uniform in (0, 1]; level = floor(-ln(u) * mL) (paper, section 4).
        rngState &+= 0x9E37_79B9_7F4A_7C15
        var z = rngState
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 1) / 9_007_199_254_740_992.0
        return min(Int(-log(u) * levelMultiplier), 16)
    }

    private func similarity(_ a: Int, _ b: Int) -> Float {
        vectors.withUnsafeBufferPointer { v in
            VectorMath.dot(v.baseAddress! + a * dimension, v.baseAddress! + b * dimension, dimension)
        }
    }

    private func similarity(_ node: Int, query: [Float]) -> Float {
        vectors.withUnsafeBufferPointer { v in
            query.withUnsafeBufferPointer { q in
                VectorMath.dot(v.baseAddress! + node * dimension, q.baseAddress!, dimension)
            }
        }
    }

    private func score(_ node: Int, queryNode: Int?, query: [Float]?) -> Float {
        if let queryNode { return similarity(node, queryNode) }
        return similarity(node, query: query!)
    }

    private func greedyClosest(node: Int, from start: Int, level: Int) -> Int {
        greedy(queryNode: node, query: nil, from: start, level: level)
    }

    private func greedyClosest(query: [Float], from start: Int, level: Int) -> Int {
        greedy(queryNode: nil, query: query, from: start, level: level)
    }

    private func greedy(queryNode: Int?, query: [Float]?, from start: Int, level: Int) -> Int {
        var current = start
        var best = score(current, queryNode: queryNode, query: query)
        var improved = true
        while improved {
            improved = false
            for n in links[current][level] {
                let s = score(Int(n), queryNode: queryNode, query: query)
                if s > best {
                    best = s
                    current = Int(n)
                    improved = true
                }
            }
        }
        return current
    }

    /// Algorithm 2: best-first search on one layer; returns up to `ef` nodes, most similar first.
    private func searchLayer(queryNode: Int?, query: [Float]?, entries: [Int], ef: Int, level: Int) -> [(node: Int, score: Float)] {
        var visited = [Bool](repeating: false, count: nodeIds.count)
        var candidates = ScoreHeap(maxOnTop: true)    // to expand, best on top
        var results = ScoreHeap(maxOnTop: false)      // kept, worst on top
        for e in entries {
            let s = score(e, queryNode: queryNode, query: query)
            visited[e] = true
            candidates.push(e, s)
            results.push(e, s)
        }
        while let (c, cs) = candidates.pop() {
            if results.count >= ef, let worst = results.top, cs < worst.score { break }
            for n32 in links[c][level] {
                let n = Int(n32)
                if visited[n] { continue }
                visited[n] = true
                let s = score(n, queryNode: queryNode, query: query)
                if results.count < ef || s > results.top!.score {
                    candidates.push(n, s)
                    results.push(n, s)
                    if results.count > ef { _ = results.pop() }
                }
            }
        }
        var out: [(node: Int, score: Float)] = []
        out.reserveCapacity(results.count)
        while let (n, s) = results.pop() { out.append((n, s)) }
        return out.reversed()
    }

    /// Algorithm 4 (heuristic, without extending candidates, with `keepPrunedConnections`): keep a
    /// candidate unless it is more similar to a neighbour already kept than to the query; then fill up to
    /// `limit` with the best pruned candidates. `candidates` must be best first.
    ///
    /// NOTE: the fill-up matters for near-equidistant data (e.g. sparse bag-of-words vectors sharing a
    /// common part), where the pure heuristic keeps a single neighbour and leaves the graph disconnected.
    private func selectNeighbours(_ candidates: [(node: Int, score: Float)], max limit: Int) -> [Int] {
        var kept: [Int] = []
        var pruned: [Int] = []
        for c in candidates {
            if kept.count >= limit { break }
            if kept.allSatisfy({ similarity(c.node, $0) <= c.score }) {
                kept.append(c.node)
            } else {
                pruned.append(c.node)
            }
        }
        for p in pruned where kept.count < limit { kept.append(p) }
        return kept
    }
}

/// A binary heap of (node, score) pairs; `maxOnTop` picks the order.
private struct ScoreHeap {
    private var items: [(node: Int, score: Float)] = []
    let maxOnTop: Bool

    init(maxOnTop: Bool) { self.maxOnTop = maxOnTop }

    var count: Int { items.count }
    var top: (node: Int, score: Float)? { items.first }

    private func above(_ a: Int, _ b: Int) -> Bool {
        maxOnTop ? items[a].score > items[b].score : items[a].score < items[b].score
    }

    mutating func push(_ node: Int, _ score: Float) {
        items.append((node, score))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard above(i, parent) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Int, Float)? {
        guard !items.isEmpty else { return nil }
        let first = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count, above(l, best) { best = l }
                if r < items.count, above(r, best) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return (first.node, first.score)
    }
}
