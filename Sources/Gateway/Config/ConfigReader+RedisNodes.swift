import Redis
import Yams

extension ConfigReader {
    /// `redis_startup_nodes: [{host, port}, ...]` (LiteLLM's Redis Cluster key; `port` may be quoted): 1 to
    /// `RedisNodeAddress.maxStartupNodes` entries, each a valid host and a port 1-65535, none twice.
    func redisStartupNodes(_ node: Node, _ path: String) throws(ConfigError) -> [RedisNodeAddress] {
        var nodes: [RedisNodeAddress] = []
        for (i, item) in try sequence(node, path).enumerated() {
            let p = "\(path)[\(i)]"
            var host: String?, port: Int?
            for (key, value) in try mapping(item, p) {
                switch key {
                case "host": host = try string(value, "\(p).host")
                case "port": port = try int(value, "\(p).port")
                default: throw ConfigError("\(p).\(key): unknown key (a startup node has host and port)")
                }
            }
            guard let host, !host.isEmpty else { throw ConfigError("\(p).host: required") }
            guard let port else { throw ConfigError("\(p).port: required") }
            do {
                nodes.append(try RedisNodeAddress(host: host, port: port))
            } catch {
                throw ConfigError("\(p): \(error.message)")
            }
        }
        do {
            try RedisNodeAddress.validateStartupNodes(nodes)
        } catch {
            throw ConfigError("\(path): \(error.message)")
        }
        return nodes
    }
}
