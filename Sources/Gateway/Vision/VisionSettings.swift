/// `router_settings.vision_settings`: how images are fetched, described and cached for the vision-to-text
/// fallback (`router_settings.vision_fallback`, `model_info.vision_fallback`).
public struct VisionSettings: Sendable, Equatable {
    /// The text sent with each image to the vision group.
    public var descriptionPrompt = VisionSettings.defaultPrompt
    /// `max_tokens` of each description request.
    public var maxDescriptionTokens = 512
    /// Largest image in bytes, fetched or inline (decoded).
    public var maxImageBytes = 10 << 20
    /// Most images one request may carry.
    public var maxImagesPerRequest = 8
    /// Seconds for fetching one image URL, every redirect and the name lookups included.
    public var fetchTimeout = 10.0
    /// Redirects followed per image URL (each hop is checked again).
    public var maxRedirects = 3
    /// Fetch from private, loopback, link-local and other non-global addresses (off: refused).
    public var allowPrivateImageURLs = false
    /// Description cache: seconds an entry lives, most entries, most bytes.
    public var cacheTTL = 3600.0
    public var cacheMaxEntries = 1000
    public var cacheMaxBytes = 4 << 20

    public static let defaultPrompt = "Describe this image in detail for someone who cannot see it. Include any text it contains, verbatim."

    public init() {}
}
