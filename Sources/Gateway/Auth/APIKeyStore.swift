import Crypto
import Foundation

/// Who a request is, from its `Authorization: Bearer <key>` header (SPEC-gateway / issue 8: the master key
/// and the virtual keys of the config's `keys:` list).
public enum Caller: Sendable, Equatable {
    /// No key is configured: everything is open.
    case anonymous
    /// The master key (`general_settings.master_key`): every route and model.
    case master
    /// A virtual key from `keys:`.
    case key(VirtualKeyConfig)

    /// The tenant id used to isolate caches: a digest of the key (never the key itself), nil when
    /// anonymous or master (the master key shares the untenanted cache).
    public var tenant: String? {
        guard case .key(let k) = self else { return nil }
        return "key:" + APIKeyStore.fingerprint(k.key)
    }

    /// Who spend is charged to: LiteLLM's hashed token (SHA-256 hex of the key, as its `/key/info` and
    /// `/spend/logs` report `api_key`) for a virtual key, `master` or `anonymous` otherwise. Never the key.
    public var spendID: String {
        switch self {
        case .anonymous: "anonymous"
        case .master: "master"
        case .key(let k): APIKeyStore.hashedToken(k.key)
        }
    }

    /// The virtual key's alias (`keys[].alias`), nil otherwise.
    public var keyAlias: String? {
        guard case .key(let k) = self else { return nil }
        return k.alias
    }

    /// The response-cache namespace of a virtual key (`keys[].cache_namespace`), nil otherwise.
    public var cacheNamespace: String? {
        guard case .key(let k) = self else { return nil }
        return k.cacheNamespace
    }

    /// Whether the caller may use the admin routes (`/cache/*`, `/prefix_cache/*`): the master key, or
    /// anyone on a server without keys. Never a virtual key.
    public var isAdmin: Bool {
        if case .key = self { return false }
        return true
    }

    /// Whether the caller may read `key`'s spend and info (`/key/info`): the master key (or anyone on an
    /// open server) for every key, a virtual key for itself only.
    public func mayReadSpend(of key: VirtualKeyConfig) -> Bool {
        guard case .key(let own) = self else { return true }
        return APIKeyStore.constantTimeEqual(APIKeyStore.digest(own.key), APIKeyStore.digest(key.key))
    }

    /// Whether the caller may see and act on a Batch API file or batch owned by `owner` (its creator's
    /// `spendID`): the master key (or anyone on an open server) every object, a virtual key its own only.
    public func mayAccess(owner: String) -> Bool {
        guard case .key = self else { return true }
        return APIKeyStore.constantTimeEqual(Array(spendID.utf8), Array(owner.utf8))
    }

    /// Whether the caller may use model group `model` (a key with an empty `models` list may use all).
    public func mayUse(model: String) -> Bool {
        guard case .key(let k) = self, !k.models.isEmpty else { return true }
        return k.models.contains(model)
    }
}

/// The configured keys, checked in constant time against a digest of the presented key.
///
/// NOTE: every configured key's digest is compared (no early exit), so the time taken does not reveal
/// which key, or how much of one, matched. Keys are never logged: `fingerprint` is a short SHA-256 prefix.
public struct APIKeyStore: Sendable {
    private let master: [UInt8]?
    private let keys: [(digest: [UInt8], config: VirtualKeyConfig)]

    public init(masterKey: String?, keys: [VirtualKeyConfig]) {
        master = masterKey.map(Self.digest)
        self.keys = keys.map { (Self.digest($0.key), $0) }
    }

    /// Whether any key is configured (otherwise every request is `.anonymous`).
    public var isEnabled: Bool { master != nil || !keys.isEmpty }

    /// The caller for an `Authorization` header value; nil = missing or wrong key (a 401).
    public func authenticate(authorization: String?) -> Caller? {
        guard isEnabled else { return .anonymous }
        guard let header = authorization, header.hasPrefix("Bearer ") else { return nil }
        let presented = Self.digest(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        var found: Caller?
        if let master, Self.constantTimeEqual(master, presented) { found = .master }
        for (digest, config) in keys where Self.constantTimeEqual(digest, presented) && found == nil {
            found = .key(config)
        }
        return found
    }

    /// The caller for the presented credentials: `Authorization: Bearer <key>` (OpenAI's header) and / or
    /// `x-api-key: <key>` (Anthropic's); when both are sent they must name the same caller. nil = a 401.
    public func authenticate(authorization: String?, apiKey: String?) -> Caller? {
        guard isEnabled else { return .anonymous }
        switch (authorization, apiKey) {
        case (nil, nil): return nil
        case (let header?, nil): return authenticate(authorization: header)
        case (nil, let key?): return authenticate(authorization: "Bearer " + key)
        case (let header?, let key?):
            let byHeader = authenticate(authorization: header), byKey = authenticate(authorization: "Bearer " + key)
            return byHeader == byKey ? byHeader : nil
        }
    }

    /// The configured virtual keys.
    public var virtualKeys: [VirtualKeyConfig] { keys.map(\.config) }

    /// The virtual key named by `presented`: the key itself or its hashed token (LiteLLM's `/key/info?key=`
    /// takes either); every key is compared, in constant time.
    public func key(presented: String) -> VirtualKeyConfig? {
        let digest = Self.digest(presented), hashed = Array(presented.lowercased().utf8)
        var found: VirtualKeyConfig?
        for (d, config) in keys {
            let byKey = Self.constantTimeEqual(d, digest)
            let byHash = Self.constantTimeEqual(Array(d.map { String(format: "%02x", $0) }.joined().utf8), hashed)
            if (byKey || byHash) && found == nil { found = config }
        }
        return found
    }

    /// The caller a stored owner (`Caller.spendID`) stands for now: nil when that key is no longer configured
    /// (or the master key is gone), so work it left behind does not run with permissions nobody holds.
    public func caller(spendID: String) -> Caller? {
        switch spendID {
        case "master": return master != nil ? .master : (isEnabled ? nil : .anonymous)
        case "anonymous": return isEnabled ? nil : .anonymous
        default:
            let wanted = Array(spendID.utf8)
            var found: VirtualKeyConfig?
            for (digest, config) in keys {
                let hashed = Array(digest.map { String(format: "%02x", $0) }.joined().utf8)
                if Self.constantTimeEqual(hashed, wanted) && found == nil { found = config }
            }
            return found.map { .key($0) }
        }
    }

    /// A short, non-reversible id of a key for logs and tenant ids.
    public static func fingerprint(_ key: String) -> String {
        digest(key).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// LiteLLM's `hash_token`: the SHA-256 of the key as 64 hex digits.
    public static func hashedToken(_ key: String) -> String {
        digest(key).map { String(format: "%02x", $0) }.joined()
    }

    static func digest(_ s: String) -> [UInt8] { Array(SHA256.hash(data: Data(s.utf8))) }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
