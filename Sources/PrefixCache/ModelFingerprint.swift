import Crypto

/// The identity of the model whose KV the cache holds; it seeds every block hash.
///
/// Derive it from the model file itself (for GGUF: a digest of the header, metadata and tensor table),
/// never from a random seed, so that two processes serving the same file compute identical block hashes
/// (reproducible across restarts and instances, as a shared second tier needs) and two different models
/// can never share a block.
public struct ModelFingerprint: Hashable, Sendable {
    /// Raw fingerprint bytes; any length (a 32-byte digest is typical).
    public let bytes: [UInt8]

    /// Uses `bytes` as the fingerprint as they are.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Fingerprints arbitrary identifying content (for example the GGUF header and tensor table) by
    /// taking its SHA-256 digest.
    public init(digesting content: some Sequence<UInt8>) {
        self.bytes = Array(SHA256.hash(data: Array(content)))
    }

    /// Fingerprints a string (for tests and for models identified by a name plus a revision).
    public init(digesting string: String) {
        self.init(digesting: Array(string.utf8))
    }
}
