import NumericCore

/// A nearest-neighbour index over L2-normalised vectors, scored by cosine similarity (dot product).
/// Ids are chosen by the caller and unique within one index.
public protocol VectorIndex: Sendable {
    var dimension: Int { get }
    var count: Int { get }
    /// Adds (or replaces) the vector of `id`. PRECONDITION: `vector.count == dimension`.
    mutating func add(id: Int, vector: [Float])
    /// Removes `id` (no-op when absent).
    mutating func remove(id: Int)
    /// The `k` most similar stored vectors, best first.
    func search(_ query: [Float], k: Int) -> [(id: Int, score: Float)]
    /// Every stored (id, vector) pair, for rebuilding another index kind.
    func allVectors() -> [(id: Int, vector: [Float])]
}

/// Exact brute-force search: vectors in one contiguous buffer, SIMD dot products, swap-remove.
/// Fine up to ~10^5 vectors per scope; larger scopes switch to `HNSWIndex` (see `SemanticStore`).
public struct FlatVectorIndex: VectorIndex {
    public let dimension: Int
    private var storage: [Float] = []     // [count, dimension]
    private var ids: [Int] = []           // [count]: id of each row
    private var rowOf: [Int: Int] = [:]   // id -> row

    public init(dimension: Int) {
        precondition(dimension > 0, "dimension must be positive")
        self.dimension = dimension
    }

    public var count: Int { ids.count }

    public mutating func add(id: Int, vector: [Float]) {
        precondition(vector.count == dimension, "vector has \(vector.count) dims, index has \(dimension)")
        if let row = rowOf[id] {
            storage.replaceSubrange(row * dimension..<(row + 1) * dimension, with: vector)
            return
        }
        rowOf[id] = ids.count
        ids.append(id)
        storage.append(contentsOf: vector)
    }

    public mutating func remove(id: Int) {
        guard let row = rowOf.removeValue(forKey: id) else { return }
        let last = ids.count - 1
        if row != last {
            let movedId = ids[last]
            ids[row] = movedId
            rowOf[movedId] = row
            for j in 0..<dimension { storage[row * dimension + j] = storage[last * dimension + j] }
        }
        ids.removeLast()
        storage.removeLast(dimension)
    }

    public func search(_ query: [Float], k: Int) -> [(id: Int, score: Float)] {
        precondition(query.count == dimension, "query has \(query.count) dims, index has \(dimension)")
        guard k > 0, !ids.isEmpty else { return [] }
        var best: [(id: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        storage.withUnsafeBufferPointer { rows in
            query.withUnsafeBufferPointer { q in
                for row in 0..<ids.count {
                    let score = VectorMath.dot(rows.baseAddress! + row * dimension, q.baseAddress!, dimension)
                    if best.count < k || score > best[best.count - 1].score {
                        let at = best.firstIndex { $0.score < score } ?? best.count
                        best.insert((ids[row], score), at: at)
                        if best.count > k { best.removeLast() }
                    }
                }
            }
        }
        return best
    }

    public func allVectors() -> [(id: Int, vector: [Float])] {
        ids.enumerated().map { row, id in (id, Array(storage[row * dimension..<(row + 1) * dimension])) }
    }
}
