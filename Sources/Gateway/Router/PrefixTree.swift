/// The gateway's approximate record of the request text it routed to one deployment: a radix tree over
/// UTF-8 bytes with leaf-first LRU eviction under a size bound (SGLang router's approximate tree, one tree per
/// deployment). It never sees the deployment's real KV cache; it only remembers what was sent where, so it
/// works for any OpenAI-compatible server.
///
/// Contract: `size` counts every edge byte plus `nodeOverhead` per node, and stays at most `maxBytes` after
/// each `insert` (eviction brings it down to `lowWater`, so it runs rarely). Not thread-safe: one owner
/// (`RouterState`, an actor).
///
/// NOTE: eviction order: the least recently inserted-through leaf goes first; a node's `lastUsed` is refreshed
/// by every insert through it, so an inner node is never older than its children and becomes a leaf (and a
/// candidate) only when they are gone. Edges are not re-merged after an eviction (matching stays exact).
public struct PrefixTree: Sendable {
    /// Bytes charged per node on top of its edge (the dictionary and bookkeeping), so that many tiny
    /// divergent requests cannot grow memory past the bound.
    public static let nodeOverhead = 64

    private struct Node: Sendable {
        var edge: [UInt8]
        var children: [UInt8: Int32] = [:]
        var parent: Int32
        var lastUsed: UInt64
    }

    private var nodes: [Node] = [Node(edge: [], parent: -1, lastUsed: 0)]   // [0] = root
    private var freeSlots: [Int32] = []
    private var clock: UInt64 = 0
    /// Edge bytes plus `nodeOverhead` per node.
    public private(set) var size = 0
    public let maxBytes: Int
    /// Nodes evicted so far.
    public private(set) var evictions = 0

    public init(maxBytes: Int) {
        precondition(maxBytes >= 1024, "PrefixTree needs at least 1 KiB")
        self.maxBytes = maxBytes
    }

    /// Where eviction stops: 90 % of `maxBytes`.
    public var lowWater: Int { maxBytes / 10 * 9 }

    /// Nodes in the tree, the root included.
    public var nodeCount: Int { nodes.count - freeSlots.count }

    /// Length of the longest prefix of `text` the tree holds.
    public func match(_ text: [UInt8]) -> Int {
        var node = 0, i = 0
        while i < text.count, let child = nodes[node].children[text[i]] {
            let c = Int(child)
            let common = Self.commonPrefix(nodes[c].edge, text, from: i)
            i += common
            if common < nodes[c].edge.count { break }
            node = c
        }
        return i
    }

    /// Records that `text` was routed to this deployment.
    public mutating func insert(_ text: [UInt8]) {
        clock += 1
        var node = 0, i = 0
        nodes[0].lastUsed = clock
        while i < text.count {
            guard let child = nodes[node].children[text[i]] else {
                let leaf = allocate(Node(edge: Array(text[i...]), parent: Int32(node), lastUsed: clock))
                nodes[node].children[text[i]] = leaf
                break
            }
            let c = Int(child)
            let edge = nodes[c].edge
            let common = Self.commonPrefix(edge, text, from: i)
            if common < edge.count {
                // Split the edge: node -> mid (shared part) -> c (the rest).
                let mid = allocate(Node(edge: Array(edge[..<common]), parent: Int32(node), lastUsed: clock))
                size -= common   // the shared bytes moved from c to mid
                nodes[c].edge = Array(edge[common...])
                nodes[c].parent = mid
                nodes[Int(mid)].children[edge[common]] = child
                nodes[node].children[text[i]] = mid
                node = Int(mid)
            } else {
                node = c
            }
            nodes[node].lastUsed = clock
            i += common
        }
        if size > maxBytes { evict() }
    }

    private mutating func allocate(_ node: Node) -> Int32 {
        size += node.edge.count + Self.nodeOverhead
        if let slot = freeSlots.popLast() {
            nodes[Int(slot)] = node
            return slot
        }
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    /// Removes least recently used leaves until `size <= lowWater`.
    private mutating func evict() {
        var free = Set(freeSlots)
        var heap = MinHeap()
        for i in 1..<nodes.count where !free.contains(Int32(i)) && nodes[i].children.isEmpty {
            heap.push(nodes[i].lastUsed, Int32(i))
        }
        while size > lowWater, let popped = heap.pop() {
            let leaf = popped.1
            let n = nodes[Int(leaf)]
            let parent = Int(n.parent)
            nodes[parent].children[n.edge[0]] = nil
            size -= n.edge.count + Self.nodeOverhead
            nodes[Int(leaf)] = Node(edge: [], parent: -1, lastUsed: 0)
            freeSlots.append(leaf)
            free.insert(leaf)
            evictions += 1
            if parent != 0, nodes[parent].children.isEmpty { heap.push(nodes[parent].lastUsed, Int32(parent)) }
        }
    }

    private static func commonPrefix(_ edge: [UInt8], _ text: [UInt8], from start: Int) -> Int {
        let n = min(edge.count, text.count - start)
        var k = 0
        while k < n, edge[k] == text[start + k] { k += 1 }
        return k
    }
}

/// A binary min-heap of (key, node) pairs for eviction.
private struct MinHeap {
    private var items: [(UInt64, Int32)] = []

    mutating func push(_ key: UInt64, _ value: Int32) {
        items.append((key, value))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].0 < items[p].0 else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (UInt64, Int32)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l].0 < items[m].0 { m = l }
            if r < items.count, items[r].0 < items[m].0 { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
