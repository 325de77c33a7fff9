import Foundation
import Yams

/// `router_settings`, and the cascades it declares.
extension GatewayConfig {
    static func parseCascade(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> Cascade {
        var name: String?
        var tiers: [String] = []
        var gate = CascadeGate()
        var classifier: CascadeClassifier?
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "classifier": classifier = try parseCascadeClassifier(value, p, &reader)
            case "model_name": name = try reader.string(value, p)
            case "tiers": tiers = try reader.stringList(value, p)
            case "accept":
                for (gateKey, gateValue) in try reader.mapping(value, p) {
                    let g = "\(p).\(gateKey)"
                    switch gateKey {
                    case "min_mean_logprob": gate.minMeanLogprob = try reader.double(gateValue, g)
                    case "reject_truncated": gate.rejectTruncated = try reader.bool(gateValue, g) ?? false
                    case "require_valid_json": gate.requireValidJSON = try reader.bool(gateValue, g) ?? false
                    case "reject_refusals": gate.rejectRefusals = try reader.bool(gateValue, g) ?? false
                    default: reader.unknownKey(g)
                    }
                }
            default: reader.unknownKey(p)
            }
        }
        guard let name, !name.isEmpty else { throw ConfigError("\(path).model_name: required") }
        guard tiers.count >= 2 else { throw ConfigError("\(path).tiers: a cascade needs at least two model groups") }
        guard Set(tiers).count == tiers.count else { throw ConfigError("\(path).tiers: a group appears twice") }
        if let target = classifier?.routeTo, !tiers.contains(target) {
            throw ConfigError("\(path).classifier.route_to: \"\(target)\" is not one of the cascade's tiers")
        }
        return Cascade(name: name, tiers: tiers, gate: gate, classifier: classifier)
    }

    static func parseRouterSettings(_ node: Node, _ path: String, into settings: inout RouterSettings,
                                            _ reader: inout ConfigReader) throws(ConfigError) {
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "routing_strategy":
                let name = try reader.string(value, p) ?? RoutingStrategy.simpleShuffle.rawValue
                if let strategy = RoutingStrategy(rawValue: name) {
                    settings.routingStrategy = strategy
                } else if ["usage-based-routing", "usage-based-routing-v2", "cost-based-routing"].contains(name) {
                    reader.warnings.append("\(p): \"\(name)\" is not supported; using simple-shuffle")
                } else {
                    throw ConfigError("\(p): unknown routing strategy \"\(name)\" (supported: "
                        + RoutingStrategy.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
            case "num_retries": settings.numRetries = try reader.int(value, p) ?? settings.numRetries
            case "timeout": settings.timeout = try reader.double(value, p)
            case "stream_timeout": settings.streamTimeout = try reader.double(value, p)
            case "allowed_fails": settings.allowedFails = try reader.int(value, p) ?? settings.allowedFails
            case "cooldown_time": settings.cooldownTime = try reader.double(value, p) ?? settings.cooldownTime
            case "retry_after": settings.retryAfter = try reader.double(value, p) ?? 0
            case "max_fallbacks": settings.maxFallbacks = try reader.int(value, p) ?? settings.maxFallbacks
            case "fallbacks": settings.fallbacks = try reader.fallbackMap(value, p)
            case "context_window_fallbacks": settings.contextWindowFallbacks = try reader.fallbackMap(value, p)
            case "content_policy_fallbacks": settings.contentPolicyFallbacks = try reader.fallbackMap(value, p)
            case "default_fallbacks": settings.defaultFallbacks = try reader.stringList(value, p)
            case "cascades":
                for (i, item) in try reader.sequence(value, p).enumerated() {
                    settings.cascades.append(try parseCascade(item, "\(p)[\(i)]", &reader))
                }
            case "prefix_cache_threshold":
                settings.prefixCacheThreshold = try reader.double(value, p) ?? settings.prefixCacheThreshold
                guard (0...1).contains(settings.prefixCacheThreshold) else {
                    throw ConfigError("\(p): must be between 0 and 1, got \(settings.prefixCacheThreshold)")
                }
            case "prefix_match_tolerance":
                settings.prefixMatchTolerance = try reader.double(value, p) ?? settings.prefixMatchTolerance
                guard (0...1).contains(settings.prefixMatchTolerance) else {
                    throw ConfigError("\(p): must be between 0 and 1, got \(settings.prefixMatchTolerance)")
                }
            case "prefix_balance_abs_threshold":
                settings.prefixBalanceAbsThreshold = try reader.int(value, p) ?? settings.prefixBalanceAbsThreshold
                guard (0...1_000_000).contains(settings.prefixBalanceAbsThreshold) else {
                    throw ConfigError("\(p): expected an integer from 0 to 1000000, got \(settings.prefixBalanceAbsThreshold)")
                }
            case "prefix_balance_rel_threshold":
                settings.prefixBalanceRelThreshold = try reader.double(value, p) ?? settings.prefixBalanceRelThreshold
                guard (1...1_000_000).contains(settings.prefixBalanceRelThreshold) else {
                    throw ConfigError("\(p): must be between 1 and 1000000, got \(settings.prefixBalanceRelThreshold)")
                }
            case "prefix_tree_max_bytes":
                settings.prefixTreeMaxBytes = try reader.int(value, p) ?? settings.prefixTreeMaxBytes
                guard (1024...(1 << 32)).contains(settings.prefixTreeMaxBytes) else {
                    throw ConfigError("\(p): expected an integer from 1024 to 4294967296, got \(settings.prefixTreeMaxBytes)")
                }
            case "vision_fallback": settings.visionFallback = try reader.string(value, p)
            case "vision_settings": settings.visionSettings = try parseVisionSettings(value, p, &reader)
            case "sticky_sessions": settings.stickySessions = try reader.bool(value, p) ?? false
            case "sticky_sessions_max":
                settings.stickySessionsMax = try reader.int(value, p) ?? settings.stickySessionsMax
                guard (1...10_000_000).contains(settings.stickySessionsMax) else {
                    throw ConfigError("\(p): expected an integer from 1 to 10000000, got \(settings.stickySessionsMax)")
                }
            case "redis_host": settings.redisHost = try reader.string(value, p)
            case "redis_port": settings.redisPort = try reader.int(value, p)
            case "redis_password": settings.redisPassword = try reader.string(value, p)
            case "redis_url": settings.redisURL = try reader.string(value, p)
            case "redis_startup_nodes": settings.redisStartupNodes = try reader.redisStartupNodes(value, p)
            default: reader.unknownKey(p)
            }
        }
        if settings.numRetries < 0 { throw ConfigError("\(path).num_retries: must be >= 0") }
        if settings.allowedFails < 0 { throw ConfigError("\(path).allowed_fails: must be >= 0") }
        if settings.cooldownTime < 0 { throw ConfigError("\(path).cooldown_time: must be >= 0") }
    }
}
