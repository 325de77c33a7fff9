import Engine
import Foundation
import Hummingbird
import Logging
import Gateway

/// Settings of the HTTP server (from `infer serve` flags).
struct ServerSettings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    /// The model id clients use (`model` field, `/v1/models`).
    var servedModelName: String
    /// The master key: when set, every route but health and metrics needs `Authorization: Bearer <key>`.
    var apiKey: String?
    /// Virtual keys (the config's `keys:`); each is also accepted, limited to its models, and isolated: its
    /// prefix-cache salt and response-cache entries are derived from the key.
    var virtualKeys: [VirtualKeyConfig] = []
    /// Declared public system prompts (`general_settings.public_prefixes`): shared by every tenant.
    var publicPrefixes: [String] = []
    /// Largest accepted request body (bigger: 413).
    var maxBodyBytes = 16 << 20
    /// Largest response body (or whole stream) accepted from a remote deployment
    /// (`general_settings.max_response_size_mb`; bigger: 502 `response_too_large`).
    var maxResponseBytes = ProviderRequest.defaultMaxResponseBytes
    /// What one request may ask for, how many run at once, how long one may take.
    var limits = RequestLimits()
    /// Whether virtual keys get their own prefix-cache salt and response-cache scope (config
    /// `general_settings.tenant_isolation`, default true). Off, every key shares the caches as the master
    /// key does (a client `cache_salt` still separates what it salts).
    var tenantIsolation = true
    /// Seconds in-flight requests get to finish on SIGINT / SIGTERM before they are cancelled.
    var shutdownTimeout = 30.0
    /// Seconds one write of a streamed response may take (a client that stopped reading): after that the
    /// stream is closed and its generation cancelled. nil or 0 = no limit.
    var writeTimeout: Double? = 30
    /// Read and idle timeouts and the connection cap (`--read-timeout`, `--idle-timeout`, `--max-connections`).
    var connection = ConnectionGuard.Settings()

    /// The default model id: the file name without `.gguf`.
    static func defaultModelName(path: String) -> String {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name.hasSuffix(".gguf") ? String(name.dropLast(5)) : name
    }
}
