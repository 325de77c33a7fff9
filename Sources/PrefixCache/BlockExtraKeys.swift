/// A LoRA adapter as it enters the block hash: its name and a digest of its weights file.
public struct LoRAKey: Hashable, Sendable {
    /// The adapter name the request used.
    public var name: String
    /// A digest of the adapter file (so a replaced file under the same name never hits old blocks).
    public var digest: [UInt8]

    /// Creates a LoRA key.
    public init(name: String, digest: [UInt8]) {
        self.name = name
        self.digest = digest
    }
}

/// An isolation salt: opaque bytes, or a string's UTF-8 bytes (string literals work directly).
public struct CacheSalt: Hashable, Sendable, ExpressibleByStringLiteral {
    /// The salt bytes as they enter the hash.
    public let bytes: [UInt8]

    /// A salt from raw bytes (for example a digest of the API key).
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A salt from a string's UTF-8 bytes (for example the request's `cache_salt`).
    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    /// A salt from a string literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }
}

/// An image (or other media item) occupying a token range of the prompt.
public struct ImageSpan: Hashable, Sendable {
    /// Content hash of the media item (any length; a SHA-256 digest is typical).
    public var contentHash: [UInt8]
    /// Absolute token position of the item's first placeholder token.
    public var start: Int
    /// Number of placeholder tokens the item occupies.
    public var length: Int

    /// Creates an image span.
    public init(contentHash: [UInt8], start: Int, length: Int) {
        self.contentHash = contentHash
        self.start = start
        self.length = length
    }
}

/// Everything besides token ids that decides whether two requests may share KV blocks.
///
/// Salt placement (per-range salt): blocks lying wholly inside the first `publicPrefixTokens` tokens are
/// unsalted and shareable by every tenant; the salt (tenant and/or `cache_salt`) is mixed into the first
/// block that is not wholly inside that prefix, and reaches every later block through the hash chain.
/// With `publicPrefixTokens == 0` (the default) the salt lands in block 0: full isolation.
///
/// The LoRA key goes into every block; an image key goes into each block its token range overlaps, with
/// its offset relative to that block's first token.
///
/// NOTE: the tenant salt must come from the server (a digest of the API key or tenant id), not only from
/// the client, or a client could omit it and probe other tenants' prompts by timing (CVE-2025-46570).
public struct BlockExtraKeys: Hashable, Sendable {
    /// Server-derived isolation salt; `nil` when tenant isolation is off.
    public var tenant: CacheSalt?
    /// The request's `cache_salt`, if any.
    public var salt: CacheSalt?
    /// Number of leading tokens declared shareable across salts (a public system prompt or a
    /// `cache_control` breakpoint). Blocks wholly inside it are hashed without salt.
    public var publicPrefixTokens: Int
    /// The LoRA adapter applied to this request, if any.
    public var lora: LoRAKey?
    /// Media items in the prompt, by token range.
    public var images: [ImageSpan]

    /// Creates request keys; every part is optional.
    public init(
        tenant: CacheSalt? = nil, salt: CacheSalt? = nil, publicPrefixTokens: Int = 0,
        lora: LoRAKey? = nil, images: [ImageSpan] = []
    ) {
        self.tenant = tenant
        self.salt = salt
        self.publicPrefixTokens = max(0, publicPrefixTokens)
        self.lora = lora
        self.images = images
    }

    /// No salt, no adapter, no media: the plain shared cache.
    public static let none = BlockExtraKeys()

    /// Whether any salt is present.
    public var isSalted: Bool { tenant != nil || salt != nil }

    /// Index of the block that carries the salt: the first block not wholly inside the public prefix.
    public func saltedBlockIndex(blockSize: Int) -> Int {
        max(0, publicPrefixTokens) / blockSize
    }

    /// The sorted extra keys of block `index` (tokens `index*blockSize ..< (index+1)*blockSize`).
    public func extraKeys(forBlock index: Int, blockSize: Int) -> [ExtraKey] {
        var keys: [ExtraKey] = []
        if index == saltedBlockIndex(blockSize: blockSize) {
            if let tenant { keys.append(ExtraKey(kind: .tenant, value: tenant.bytes)) }
            if let salt { keys.append(ExtraKey(kind: .salt, value: salt.bytes)) }
        }
        if let lora {
            var value: [UInt8] = []
            ByteEncoding.appendLengthPrefixed(Array(lora.name.utf8), to: &value)
            ByteEncoding.appendLengthPrefixed(lora.digest, to: &value)
            keys.append(ExtraKey(kind: .lora, value: value))
        }
        let blockStart = index * blockSize
        for image in images where image.length > 0
            && image.start < blockStart + blockSize && image.start + image.length > blockStart
        {
            var value: [UInt8] = []
            ByteEncoding.appendLengthPrefixed(image.contentHash, to: &value)
            ByteEncoding.appendI64(image.start - blockStart, to: &value)
            ByteEncoding.appendU32(image.length, to: &value)
            keys.append(ExtraKey(kind: .image, value: value))
        }
        if keys.count > 1 { keys.sort() }
        return keys
    }
}
