/// One Redis server's `host:port` (a cluster's startup node, or a master named by the slot map or a redirect).
public struct RedisNodeAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Most startup nodes a configuration may list (a cluster has at most a few hundred masters; a handful of
    /// startup nodes is enough to find them all).
    public static let maxStartupNodes = 64

    /// Validates `host` (1-255 bytes of letters, digits, `.`, `-`, `_`, `:` for IPv6) and `port` (1-65535).
    public init(host: String, port: Int) throws(RedisError) {
        guard !host.isEmpty, host.utf8.count <= 255,
              host.unicodeScalars.allSatisfy({ $0.isASCII && (Self.hostCharacters.contains($0)) }) else {
            throw RedisError(.configuration, "invalid redis host \"\(host.prefix(64))\"")
        }
        guard (1...65535).contains(port) else {
            throw RedisError(.configuration, "redis port must be 1-65535, got \(port)")
        }
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (the last `:` separates the port, so `::1:7000` is IPv6 `::1`).
    public init(_ text: String) throws(RedisError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw RedisError(.configuration, "expected host:port, got \"\(text.prefix(64))\"")
        }
        try self.init(host: String(text[..<colon]), port: port)
    }

    /// Validates a startup-node list: 1 to `maxStartupNodes` entries, no duplicates.
    public static func validateStartupNodes(_ nodes: [RedisNodeAddress]) throws(RedisError) {
        guard !nodes.isEmpty else { throw RedisError(.configuration, "redis startup nodes: the list is empty") }
        guard nodes.count <= maxStartupNodes else {
            throw RedisError(.configuration, "redis startup nodes: at most \(maxStartupNodes), got \(nodes.count)")
        }
        guard Set(nodes).count == nodes.count else {
            throw RedisError(.configuration, "redis startup nodes: a node is listed twice")
        }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private static let hostCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:".unicodeScalars)
}
