import Foundation
import Gateway
import Testing

@Suite("Vision fallback config")
struct VisionConfigTests {
    static let yaml = """
    model_list:
      - model_name: text
        litellm_params: {model: openai/small, api_base: "http://127.0.0.1:1/v1"}
      - model_name: other-text
        litellm_params: {model: openai/other, api_base: "http://127.0.0.1:1/v1"}
        model_info: {vision_fallback: vision-b}
      - model_name: vision
        litellm_params: {model: openai/v, api_base: "http://127.0.0.1:1/v1"}
        model_info: {supports_vision: true}
      - model_name: vision-b
        litellm_params: {model: openai/vb, api_base: "http://127.0.0.1:1/v1"}
        model_info: {supports_vision: true}
    router_settings:
      vision_fallback: vision
      cascades: [{model_name: smart, tiers: [vision, text]}]
      vision_settings:
        description_prompt: "What is in this picture?"
        max_image_mb: 2
        fetch_timeout: 3
        max_redirects: 1
        allow_private_image_urls: true
        cache_ttl: 10
        cache_max_entries: 5
    """

    @Test func parsesAndMapsTextOnlyGroups() throws {
        let (config, warnings) = try GatewayConfig.parse(yaml: Self.yaml, environment: [:])
        #expect(warnings.isEmpty)
        let s = config.routerSettings.visionSettings
        #expect(s.descriptionPrompt == "What is in this picture?")
        #expect(s.maxImageBytes == 2 << 20)
        #expect(s.fetchTimeout == 3)
        #expect(s.maxRedirects == 1)
        #expect(s.allowPrivateImageURLs)
        #expect(s.cacheTTL == 10)
        #expect(s.cacheMaxEntries == 5)
        let vision = VisionFallback(config: config)
        // Vision groups read images themselves; the per-group fallback wins; a cascade with a text tier is text-only.
        #expect(vision.fallbacks == ["text": "vision", "other-text": "vision-b", "smart": "vision"])
    }

    @Test func defaultsAreOffWithoutAFallback() throws {
        let yaml = """
        model_list:
          - model_name: text
            litellm_params: {model: openai/small, api_base: "http://127.0.0.1:1/v1"}
        """
        let (config, _) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(VisionFallback(config: config).fallbacks.isEmpty)
        #expect(config.routerSettings.visionSettings == VisionSettings())
        #expect(!VisionSettings().allowPrivateImageURLs)
        #expect(VisionSettings().maxImageBytes == 10 << 20)
    }

    @Test func errorsNameTheKey() {
        let cases: [(String, String)] = [
            (Self.yaml.replacingOccurrences(of: "vision_fallback: vision\n", with: "vision_fallback: nope\n"),
             "router_settings.vision_fallback: \"nope\" is not a model group"),
            (Self.yaml.replacingOccurrences(of: "vision_fallback: vision\n", with: "vision_fallback: text\n"),
             "router_settings.vision_fallback: every deployment of \"text\" must declare model_info.supports_vision: true"),
            (Self.yaml.replacingOccurrences(of: "{vision_fallback: vision-b}", with: "{vision_fallback: other-text}"),
             "model_list[1].model_info.vision_fallback: every deployment of \"other-text\""),
            (Self.yaml.replacingOccurrences(of: "max_image_mb: 2", with: "max_image_mb: 0"),
             "router_settings.vision_settings.max_image_mb: must be more than 0"),
            (Self.yaml.replacingOccurrences(of: "max_redirects: 1", with: "max_redirects: 11"),
             "router_settings.vision_settings.max_redirects: expected an integer from 0 to 10, got 11"),
            (Self.yaml.replacingOccurrences(of: "fetch_timeout: 3", with: "fetch_timeout: -1"),
             "router_settings.vision_settings.fetch_timeout: must be more than 0"),
            (Self.yaml.replacingOccurrences(of: "allow_private_image_urls: true", with: "allow_private_image_urls: maybe"),
             "router_settings.vision_settings.allow_private_image_urls"),
            (Self.yaml.replacingOccurrences(of: "{supports_vision: true}\n  - model_name: vision-b", with: "{supports_vision: 3}\n  - model_name: vision-b"),
             "model_list[2].model_info.supports_vision"),
        ]
        for (yaml, expected) in cases {
            do {
                _ = try GatewayConfig.parse(yaml: yaml, environment: [:])
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }

    @Test func unknownVisionSettingIsAWarning() throws {
        let yaml = Self.yaml.replacingOccurrences(of: "cache_ttl: 10", with: "cache_ttl: 10\n    colour: blue")
        let (_, warnings) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(warnings.contains { $0.contains("router_settings.vision_settings.colour") })
    }
}
