/// Which node addresses a cluster client may connect to: a reply (`CLUSTER SLOTS`, `MOVED`, `ASK`) comes from
/// the network, so a compromised or impersonated node must not be able to send our commands (and the password)
/// to a host of its choosing.
///
/// Allowed: a host spelled exactly as a startup node's; an IPv4 literal in the same /16 as an IPv4 startup
/// node (`localhost` counts as 127.0.0.1); an IPv6 literal equal to a startup node's. Everything else is refused.
struct ClusterAddressPolicy: Sendable {
    private let hosts: Set<String>
    private let networks: Set<[UInt8]>   // first two octets of each IPv4 startup node

    init(startupNodes: [RedisNodeAddress]) {
        hosts = Set(startupNodes.map { $0.host.lowercased() })
        networks = Set(startupNodes.compactMap { node -> [UInt8]? in
            let host = node.host.lowercased() == "localhost" ? "127.0.0.1" : node.host
            return Self.ipv4(host).map { Array($0.prefix(2)) }
        })
    }

    func allows(_ address: RedisNodeAddress) -> Bool {
        if hosts.contains(address.host.lowercased()) { return true }
        guard let octets = Self.ipv4(address.host) else { return false }
        return networks.contains(Array(octets.prefix(2)))
    }

    /// The four octets of a dotted-quad IPv4 literal, or nil.
    static func ipv4(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
            octets.append(value)
        }
        return octets
    }
}
