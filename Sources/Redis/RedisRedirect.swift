/// A cluster redirect parsed from an error reply: `-MOVED <slot> <host>:<port>` (the slot lives elsewhere
/// for good: update the map) or `-ASK <slot> <host>:<port>` (this one key is being migrated: send `ASKING`
/// and the command to that node once, keep the map).
enum RedisRedirect: Sendable, Equatable {
    case moved(slot: Int, to: RedisNodeAddress)
    case ask(slot: Int, to: RedisNodeAddress)

    /// Parses an error reply's text; nil when it is not a well-formed redirect. An empty host (Redis 7 with
    /// an unknown endpoint: `MOVED 3999 :6381`) means the host of the node that answered.
    init?(error: String, answeredBy node: RedisNodeAddress) {
        let parts = error.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, let slot = Int(parts[1]), (0..<RedisKeySlot.count).contains(slot) else { return nil }
        let target = parts[2]
        guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
            return nil
        }
        var host = String(target[..<colon])
        if host.isEmpty { host = node.host }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let address = try? RedisNodeAddress(host: host, port: port) else { return nil }
        switch parts[0] {
        case "MOVED": self = .moved(slot: slot, to: address)
        case "ASK": self = .ask(slot: slot, to: address)
        default: return nil
        }
    }

    var slot: Int {
        switch self { case .moved(let s, _), .ask(let s, _): s }
    }

    var target: RedisNodeAddress {
        switch self { case .moved(_, let a), .ask(_, let a): a }
    }
}
