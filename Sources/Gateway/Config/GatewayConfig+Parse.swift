import Foundation
import Yams

extension GatewayConfig {
    /// Parses a LiteLLM-compatible YAML config.
    ///
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - environment: where `os.environ/VAR` values and `REDIS_*` settings are read.
    /// - Returns: the config and warnings (unknown keys, unsupported-but-harmless settings).
    /// - Throws: `ConfigError` naming the key path of the first invalid value.
    public static func parse(yaml: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> (GatewayConfig, warnings: [String]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("invalid YAML: \(error)")
        }
        var reader = ConfigReader(environment: environment)
        var config = GatewayConfig()
        guard let root else { return (config, reader.warnings) }
        for (key, value) in try reader.mapping(root, "config") {
            switch key {
            case "model_list":
                for (i, item) in try reader.sequence(value, key).enumerated() {
                    config.modelList.append(try parseDeployment(item, "model_list[\(i)]", &reader))
                }
            case "router_settings":
                try parseRouterSettings(value, key, into: &config.routerSettings, &reader)
            case "litellm_settings":
                try parseLiteLLMSettings(value, key, into: &config, &reader)
            case "general_settings":
                config.generalSettings = try parseGeneralSettings(value, key, &reader)
            case "keys":
                for (i, item) in try reader.sequence(value, key).enumerated() {
                    config.keys.append(try parseKey(item, "keys[\(i)]", &reader))
                }
            case "environment_variables":
                break   // LiteLLM sets these into its own environment; we read the real one only
            default:
                reader.unknownKey(key)
            }
        }
        let r = config.routerSettings
        config.routerSettings.redisHost = r.redisHost ?? environment["REDIS_HOST"]
        config.routerSettings.redisPort = r.redisPort ?? environment["REDIS_PORT"].flatMap { Int($0) }
        config.routerSettings.redisPassword = r.redisPassword ?? environment["REDIS_PASSWORD"]
        config.routerSettings.redisURL = r.redisURL ?? environment["REDIS_URL"]
        try validate(config, &reader)
        return (config, reader.warnings)
    }

    private static func validate(_ config: GatewayConfig, _ reader: inout ConfigReader) throws(ConfigError) {
        var ids: [String: Int] = [:]
        for (i, deployment) in config.modelList.enumerated() {
            if let id = deployment.modelInfo.id {
                if let first = ids[id] {
                    throw ConfigError("model_list[\(i)].model_info.id: \"\(id)\" is already used by model_list[\(first)]")
                }
                ids[id] = i
            }
        }
        let groups = Set(config.modelGroups)
        let r = config.routerSettings
        for (name, map) in [("fallbacks", r.fallbacks), ("context_window_fallbacks", r.contextWindowFallbacks),
                            ("content_policy_fallbacks", r.contentPolicyFallbacks)] {
            for (group, targets) in map.sorted(by: { $0.key < $1.key }) {
                for target in targets + (group == "*" ? [] : [group]) where !groups.contains(target) {
                    reader.warnings.append("router_settings.\(name): model group \"\(target)\" is not in model_list")
                }
            }
        }
        for target in r.defaultFallbacks where !groups.contains(target) {
            reader.warnings.append("router_settings.default_fallbacks: model group \"\(target)\" is not in model_list")
        }
        try validateVision(config)
    }
}
