import CCurl

/// A URL as libcurl itself parses it (`curl_url`), so what a caller checks (scheme, host, port) is exactly
/// what libcurl will connect to: no second parser to disagree with (`http://127.1/`, `http://[::1]/`,
/// backslashes, user info). Also resolves a redirect's `Location` against the URL it came from.
public struct CurlURL: Sendable, Equatable {
    /// The normalized URL text.
    public var url: String
    /// Lowercased scheme, e.g. `https`.
    public var scheme: String
    /// The host without IPv6 brackets (`::1`, `example.com`; libcurl normalizes IPv4 forms such as `127.1`);
    /// empty when the URL has none.
    public var host: String
    /// The explicit port, else the scheme's default (0: none known).
    public var port: Int
    /// Whether the URL carries a user name or password.
    public var hasCredentials: Bool

    /// nil when libcurl cannot parse `text` (relative to `base` when given).
    public init?(_ text: String, relativeTo base: String? = nil) {
        guard let handle = curl_url() else { return nil }
        defer { curl_url_cleanup(handle) }
        if let base, curl_url_set(handle, CURLUPART_URL, base, 0) != CURLUE_OK { return nil }
        guard curl_url_set(handle, CURLUPART_URL, text, Self.nonSupportScheme) == CURLUE_OK,
              let url = Self.part(handle, CURLUPART_URL, 0),
              let scheme = Self.part(handle, CURLUPART_SCHEME, 0) else { return nil }
        // `file:` URLs have no host; schemes libcurl does not know have no default port.
        let host = Self.part(handle, CURLUPART_HOST, 0) ?? ""
        self.url = url
        self.scheme = scheme.lowercased()
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = Self.part(handle, CURLUPART_PORT, Self.defaultPort).flatMap { Int($0) } ?? 0
        hasCredentials = Self.part(handle, CURLUPART_USER, 0) != nil || Self.part(handle, CURLUPART_PASSWORD, 0) != nil
    }

    /// `CURLU_NON_SUPPORT_SCHEME` (parse any scheme, so a caller can refuse it by name) and `CURLU_DEFAULT_PORT`.
    private static let nonSupportScheme: UInt32 = 1 << 3
    private static let defaultPort: UInt32 = 1 << 0

    private static func part(_ handle: OpaquePointer, _ what: CURLUPart, _ flags: UInt32) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, what, &out, flags) == CURLUE_OK, let out else { return nil }
        defer { curl_free(out) }
        return String(cString: out)
    }
}
