import Yams

extension GatewayConfig {
    /// `router_settings.cascades[].classifier`.
    static func parseCascadeClassifier(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> CascadeClassifier {
        var c = CascadeClassifier()
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "min_prompt_chars": c.minPromptChars = try bounded(value, p, 1...10_000_000, &reader)
            case "code": c.code = try reader.bool(value, p) ?? false
            case "math": c.math = try reader.bool(value, p) ?? false
            case "route_to": c.routeTo = try reader.string(value, p)
            default: reader.unknownKey(p)
            }
        }
        return c
    }
}
