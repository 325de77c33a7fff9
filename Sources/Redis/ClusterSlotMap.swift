/// Which master serves each of the 16384 hash slots, as learned from `CLUSTER SLOTS` and corrected by `MOVED`.
///
/// Contract: `parse` validates the whole reply before anything is used — every range within 0...16383 and
/// ordered, every master a `[host, port, ...]` entry with a port 1-65535 and a host the `ClusterAddressPolicy`
/// allows — and refuses garbage with a `.unexpectedReply` error naming what was wrong. Replicas are ignored
/// (commands go to masters). Slots no range covers stay unassigned (`node(forSlot:)` is nil).
struct ClusterSlotMap: Sendable, Equatable {
    private static let unassigned = UInt16.max

    /// The masters, in the order they first appeared.
    private(set) var masters: [RedisNodeAddress] = []
    /// Slot -> index into `masters`, or `unassigned`.
    private var owner = [UInt16](repeating: ClusterSlotMap.unassigned, count: RedisKeySlot.count)

    init() {}

    /// The master serving `slot`, if any.
    func node(forSlot slot: Int) -> RedisNodeAddress? {
        let index = owner[slot]
        return index == Self.unassigned ? nil : masters[Int(index)]
    }

    /// Slots assigned to some master.
    var coveredSlots: Int { owner.reduce(0) { $0 + ($1 == Self.unassigned ? 0 : 1) } }

    /// Moves one slot to `node` (a `MOVED` reply), adding the node if it is new.
    mutating func assign(slot: Int, to node: RedisNodeAddress) {
        owner[slot] = UInt16(index(of: node))
    }

    private mutating func index(of node: RedisNodeAddress) -> Int {
        if let i = masters.firstIndex(of: node) { return i }
        masters.append(node)
        return masters.count - 1
    }

    /// Builds the map from a `CLUSTER SLOTS` reply received from `queried` (an empty host in an entry means
    /// that node's host).
    static func parse(clusterSlots reply: RedisReply, queried: RedisNodeAddress,
                      policy: ClusterAddressPolicy) throws(RedisError) -> ClusterSlotMap {
        func bad(_ what: String) -> RedisError { RedisError(.unexpectedReply, "CLUSTER SLOTS from \(queried): \(what)") }
        if case .error(let message) = reply { throw RedisError(.server, "CLUSTER SLOTS from \(queried): \(message)") }
        guard case .array(let ranges) = reply else { throw bad("expected an array, got \(reply)") }
        guard !ranges.isEmpty else { throw bad("no slot is assigned") }
        guard ranges.count <= RedisKeySlot.count else { throw bad("\(ranges.count) ranges") }
        var map = ClusterSlotMap()
        for (i, range) in ranges.enumerated() {
            guard case .array(let fields) = range, fields.count >= 3,
                  case .int(let start) = fields[0], case .int(let end) = fields[1] else {
                throw bad("range \(i) is not [start, end, master, ...]")
            }
            guard 0 <= start, start <= end, end < RedisKeySlot.count else {
                throw bad("range \(i) is \(start)-\(end), outside 0-\(RedisKeySlot.count - 1)")
            }
            guard case .array(let master) = fields[2], master.count >= 2, let rawHost = master[0].string,
                  case .int(let port) = master[1] else {
                throw bad("range \(i) has no [host, port] master")
            }
            let host = rawHost.isEmpty ? queried.host : rawHost
            let node: RedisNodeAddress
            do {
                node = try RedisNodeAddress(host: host, port: port)
            } catch {
                throw bad("range \(i): \(error.message)")
            }
            guard policy.allows(node) else {
                throw bad("range \(i) names \(node), which is not on the startup nodes' network (refused)")
            }
            let index = UInt16(map.index(of: node))
            for slot in start...end { map.owner[slot] = index }
        }
        return map
    }
}
