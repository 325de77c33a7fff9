/// Where a command's keys are, so a cluster client can send it to the master of their slot.
///
/// Covers the commands this codebase sends (and the common single-key ones, which all take their key first);
/// a command that spans keys of different slots is refused before it is sent (`CROSSSLOT`), as the cluster
/// itself would refuse it.
enum RedisCommandKeys {
    /// How a command is routed.
    enum Routing: Equatable {
        /// No key: any master may run it (`PING`, `PUBLISH`: published messages reach every node).
        case anyNode
        /// Every key is in this slot.
        case slot(Int)
    }

    private static let keyless: Set<String> = [
        "PING", "ECHO", "PUBLISH", "INFO", "TIME", "CLUSTER", "COMMAND", "AUTH", "SELECT", "HELLO", "CLIENT",
    ]
    /// Commands whose every argument after the name is a key.
    private static let allKeys: Set<String> = ["DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH"]
    /// Commands with `numkeys` as second argument, the keys after it.
    private static let numKeys: Set<String> = ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]
    /// Commands that make no sense routed to one node of a cluster (the client has helpers for them).
    private static let refused: Set<String> = ["SCAN", "KEYS", "FLUSHALL", "FLUSHDB", "DBSIZE", "MULTI", "EXEC", "SUBSCRIBE"]

    static func routing(_ args: [[UInt8]]) throws(RedisError) -> Routing {
        guard let first = args.first else { throw RedisError(.configuration, "empty command") }
        let name = String(decoding: first, as: UTF8.self).uppercased()
        if keyless.contains(name) { return .anyNode }
        if refused.contains(name) {
            throw RedisError(.configuration, "\(name) cannot be routed in a cluster (use the client's scan helper)")
        }
        let keys: ArraySlice<[UInt8]>
        if allKeys.contains(name) {
            keys = args.dropFirst()
        } else if name == "MSET" {
            keys = ArraySlice(stride(from: 1, to: args.count, by: 2).map { args[$0] })
        } else if numKeys.contains(name) {
            guard args.count >= 3, let n = Int(String(decoding: args[2], as: UTF8.self)), n >= 0, 3 + n <= args.count else {
                throw RedisError(.configuration, "\(name): bad numkeys")
            }
            keys = args[3..<(3 + n)]
        } else {
            keys = args.dropFirst().prefix(1)
        }
        guard let firstKey = keys.first else { return .anyNode }
        let slot = RedisKeySlot.slot(firstKey)
        for key in keys.dropFirst() where RedisKeySlot.slot(key) != slot {
            throw RedisError(.server, "CROSSSLOT keys in request don't hash to the same slot (\(name), refused by the client)")
        }
        return .slot(slot)
    }
}
