import Yams

extension GatewayConfig {
    /// `router_settings.vision_settings`.
    static func parseVisionSettings(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> VisionSettings {
        var s = VisionSettings()
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "description_prompt":
                s.descriptionPrompt = try reader.string(value, p) ?? s.descriptionPrompt
                guard !s.descriptionPrompt.isEmpty, s.descriptionPrompt.utf8.count <= 4096 else {
                    throw ConfigError("\(p): must be 1 to 4096 bytes")
                }
            case "max_description_tokens": s.maxDescriptionTokens = try bounded(value, p, 1...8192, &reader) ?? s.maxDescriptionTokens
            case "max_image_mb":
                let mb = try reader.double(value, p) ?? Double(s.maxImageBytes) / Double(1 << 20)
                guard mb > 0, mb <= 100 else { throw ConfigError("\(p): must be more than 0 and at most 100, got \(mb)") }
                s.maxImageBytes = Int(mb * Double(1 << 20))
            case "max_images_per_request": s.maxImagesPerRequest = try bounded(value, p, 1...64, &reader) ?? s.maxImagesPerRequest
            case "fetch_timeout":
                s.fetchTimeout = try reader.double(value, p) ?? s.fetchTimeout
                guard s.fetchTimeout > 0, s.fetchTimeout <= 300 else {
                    throw ConfigError("\(p): must be more than 0 and at most 300 seconds, got \(s.fetchTimeout)")
                }
            case "max_redirects": s.maxRedirects = try bounded(value, p, 0...10, &reader) ?? s.maxRedirects
            case "allow_private_image_urls": s.allowPrivateImageURLs = try reader.bool(value, p) ?? false
            case "cache_ttl":
                s.cacheTTL = try reader.double(value, p) ?? s.cacheTTL
                guard s.cacheTTL >= 0 else { throw ConfigError("\(p): must be >= 0 (0: entries never expire)") }
            case "cache_max_entries": s.cacheMaxEntries = try bounded(value, p, 1...1_000_000, &reader) ?? s.cacheMaxEntries
            case "cache_max_mb":
                let mb = try reader.double(value, p) ?? Double(s.cacheMaxBytes) / Double(1 << 20)
                guard mb > 0, mb <= 4096 else { throw ConfigError("\(p): must be more than 0 and at most 4096, got \(mb)") }
                s.cacheMaxBytes = Int(mb * Double(1 << 20))
            default: reader.unknownKey(p)
            }
        }
        return s
    }

    /// An optional integer within `range`, the error naming the key.
    static func bounded(_ node: Node, _ path: String, _ range: ClosedRange<Int>, _ reader: inout ConfigReader)
        throws(ConfigError) -> Int? {
        guard let value = try reader.int(node, path) else { return nil }
        guard range.contains(value) else {
            throw ConfigError("\(path): expected an integer from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        return value
    }

    /// Every vision fallback names a model group whose deployments all declare `supports_vision: true`.
    static func validateVision(_ config: GatewayConfig) throws(ConfigError) {
        var named: [(String, String)] = []
        if let group = config.routerSettings.visionFallback { named.append(("router_settings.vision_fallback", group)) }
        for (i, d) in config.modelList.enumerated() {
            if let group = d.modelInfo.visionFallback { named.append(("model_list[\(i)].model_info.vision_fallback", group)) }
        }
        for (path, group) in named {
            let members = config.modelList.filter { $0.modelName == group }
            guard !members.isEmpty else { throw ConfigError("\(path): \"\(group)\" is not a model group in model_list") }
            guard members.allSatisfy(\.modelInfo.supportsVision) else {
                throw ConfigError("\(path): every deployment of \"\(group)\" must declare model_info.supports_vision: true")
            }
        }
    }
}
