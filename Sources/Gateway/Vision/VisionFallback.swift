import CurlHTTP
import Foundation

/// The vision-to-text cascade: a chat request with image parts (`{"type": "image_url", "image_url": {"url":
/// ...}}`, data URLs or http(s) URLs) for a text-only group is rewritten before routing: each image is
/// described by the group's vision fallback (`model_info.vision_fallback`, else `router_settings.vision_fallback`),
/// and the description replaces the image part as a text part `[Image: ...]`.
///
/// A group is text-only unless every deployment in it declares `model_info.supports_vision: true` (LiteLLM's
/// field); a cascade is text-only when any of its tiers is. Groups without a fallback are left as they are.
/// Each image is fetched (`ImageFetcher`) or decoded (`DataURL`) with the limits of `VisionSettings`, sent
/// to the vision group as a data URL (the vision upstream never fetches a client's URL itself), and its
/// description cached by image hash, prompt and group (`ImageDescriptionCache`). The vision group is routed
/// like any group for this caller (its key must be allowed it; retries and cooldowns apply).
public struct VisionFallback: Sendable {
    public let settings: VisionSettings
    /// Text-only group or cascade name -> the vision group that describes its images.
    public let fallbacks: [String: String]
    let fetcher: ImageFetcher
    public let cache: ImageDescriptionCache

    public init(config: GatewayConfig, client: HTTPClient = .shared, clock: CacheClock = .system) {
        settings = config.routerSettings.visionSettings
        fetcher = ImageFetcher(client: client, settings: settings)
        cache = ImageDescriptionCache(settings: settings, clock: clock)
        var map: [String: String] = [:]
        for group in config.modelGroups {
            if let target = Self.fallback(for: group, config) { map[group] = target }
        }
        for cascade in config.routerSettings.cascades {
            if let target = cascade.tiers.lazy.compactMap({ Self.fallback(for: $0, config) }).first { map[cascade.name] = target }
        }
        fallbacks = map
    }

    /// The vision group of a text-only group (nil: the group reads images itself, or has no fallback).
    static func fallback(for group: String, _ config: GatewayConfig) -> String? {
        let members = config.modelList.filter { $0.modelName == group }
        guard !members.allSatisfy({ $0.modelInfo.supportsVision }) else { return nil }
        return members.lazy.compactMap(\.modelInfo.visionFallback).first ?? config.routerSettings.visionFallback
    }

    /// One answer of the vision group (to be priced and charged like any answer).
    public struct Description: Sendable {
        public var group: String
        public var deploymentID: String
        public var apiBase: String?
        public var id: String?
        public var usage: JSONValue?
    }

    /// The rewritten request, the `x-vision-fallback` header value (`GROUP; images=N; cached=M`) and the vision
    /// group's answers (cached descriptions cost nothing and are absent), or nil when the request has no image
    /// part or its group needs no rewrite.
    /// - Throws: `ProviderError` 400 (`invalid_image`, `param` naming the part) for an image that cannot be
    ///   read, or the vision group's error (its message prefixed) when describing fails.
    public func rewrite(group: String, request: ProviderRequest, router: ProviderRouter, caller: Caller)
        async throws(ProviderError) -> (request: ProviderRequest, header: String, descriptions: [Description])? {
        guard request.endpoint == .chat, let vision = fallbacks[group],
              case .array(var messages)? = request.body["messages"], Self.countImages(messages) > 0 else { return nil }
        let total = Self.countImages(messages)
        guard total <= settings.maxImagesPerRequest else {
            throw ProviderError(status: 400, message: "The request has \(total) images; at most \(settings.maxImagesPerRequest) are accepted.",
                                type: "invalid_request_error", code: "invalid_image", param: "messages", kind: .badRequest)
        }
        var cached = 0
        var described: [String: String] = [:]
        var answers: [Description] = []
        for (i, message) in messages.enumerated() {
            guard case .array(var parts)? = message["content"] else { continue }
            for (j, part) in parts.enumerated() where part["type"] == .string("image_url") {
                let path = "messages[\(i)].content[\(j)].image_url"
                let (mediaType, bytes) = try await image(part["image_url"], path: path)
                let key = ImageDescriptionCache.key(image: bytes, prompt: settings.descriptionPrompt, group: vision)
                let text: String
                if let known = described[key] {
                    text = known
                    cached += 1
                } else if let known = await cache.get(key) {
                    text = known
                    cached += 1
                } else {
                    let answer = try await describe(DataURL.encode(mediaType: mediaType, bytes: bytes), vision: vision,
                                                    request: request, router: router, caller: caller)
                    text = answer.0
                    answers.append(answer.1)
                    await cache.set(key, text)
                }
                described[key] = text
                parts[j] = .object([("type", "text"), ("text", .string("[Image: \(text)]"))])
            }
            messages[i] = message.settingField("content", .array(parts))
        }
        var out = request
        out.body = request.body.settingField("messages", .array(messages))
        return (out, "\(vision); images=\(total); cached=\(cached)", answers)
    }

    static func countImages(_ messages: [JSONValue]) -> Int {
        messages.reduce(0) { sum, message in
            guard case .array(let parts)? = message["content"] else { return sum }
            return sum + parts.filter { $0["type"] == .string("image_url") }.count
        }
    }

    /// The bytes of one `image_url` value: `{"url": ...}` (or a bare string), a data URL or an http(s) URL.
    func image(_ value: JSONValue?, path: String) async throws(ProviderError) -> (String, [UInt8]) {
        let url: String
        switch value {
        case .string(let s)?: url = s
        case .object?:
            guard case .string(let s)? = value?["url"] else { throw Self.invalid("'\(path).url' must be a string.", "\(path).url") }
            url = s
        default: throw Self.invalid("'\(path)' must be an object with a 'url'.", path)
        }
        if url.prefix(5).lowercased() == "data:" {
            do {
                let data = try DataURL.parse(url, maxBytes: settings.maxImageBytes)
                return (data.mediaType, data.bytes)
            } catch {
                throw Self.invalid("Invalid image in '\(path).url': \(error.message).", "\(path).url")
            }
        }
        do {
            return try await fetcher.fetch(url)
        } catch {
            throw Self.invalid("Invalid image in '\(path).url': \(error.message).", "\(path).url")
        }
    }

    /// One description from the vision group.
    func describe(_ dataURL: String, vision: String, request: ProviderRequest, router: ProviderRouter,
                  caller: Caller) async throws(ProviderError) -> (String, Description) {
        let content: JSONValue = .array([
            .object([("type", "text"), ("text", .string(settings.descriptionPrompt))]),
            .object([("type", "image_url"), ("image_url", .object([("url", .string(dataURL))]))]),
        ])
        let body: JSONValue = .object([
            ("model", .string(vision)),
            ("messages", .array([.object([("role", "user"), ("content", content)])])),
            ("max_tokens", .int(settings.maxDescriptionTokens)),
        ])
        var call = ProviderRequest(endpoint: .chat, body: body, stream: false, timeout: request.timeout, tenant: request.tenant)
        call.maxResponseBytes = request.maxResponseBytes
        let routed: RoutedResult
        do {
            routed = try await router.route(modelGroup: vision, request: call, disableFallbacks: true, caller: caller)
        } catch {
            var e = error.error
            e.message = "The vision fallback (model group \(vision)) could not describe an image: \(e.message)"
            throw e
        }
        guard case .response(let json) = routed.result, case .array(let choices)? = json["choices"],
              case .string(let text)? = choices.first?["message"]?["content"],
              !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ProviderError(status: 502, message: "The vision fallback (model group \(vision)) returned no description.",
                                type: "api_error", code: "vision_fallback_failed", kind: .server)
        }
        let answer = Description(group: vision, deploymentID: routed.deploymentID, apiBase: routed.apiBase,
                                 id: json["id"]?.stringField, usage: json["usage"])
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), answer)
    }

    static func invalid(_ message: String, _ param: String) -> ProviderError {
        ProviderError(status: 400, message: message, type: "invalid_request_error", code: "invalid_image", param: param,
                      kind: .badRequest)
    }
}
