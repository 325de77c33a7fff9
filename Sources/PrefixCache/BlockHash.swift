import Crypto

/// A 32-byte SHA-256 digest naming the content of one full KV block together with its whole prefix.
///
/// Two blocks have equal hashes exactly when they hold the same tokens, at the same absolute positions,
/// after the same prefix, under the same extra keys, for the same model and block size (up to SHA-256
/// collisions). The bytes are stored as four little-endian words so that equality and hashing are cheap.
///
/// NOTE: the digest is already uniformly distributed, so `hash(into:)` feeds only the first word to the
/// hasher; `==` still compares all 32 bytes.
public struct BlockHash: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let w3: UInt64

    /// Creates a hash from exactly 32 digest bytes; returns `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        func word(_ i: Int) -> UInt64 {
            var value: UInt64 = 0
            for k in 0..<8 { value |= UInt64(array[i * 8 + k]) << (8 * UInt64(k)) }
            return value
        }
        (w0, w1, w2, w3) = (word(0), word(1), word(2), word(3))
    }

    /// Wraps a SHA-256 digest.
    init(_ digest: SHA256.Digest) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        digest.withUnsafeBytes { raw in
            words = (
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            )
        }
        (w0, w1, w2, w3) = words
    }

    /// The 32 digest bytes in the order SHA-256 produced them.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(k)))) }
        }
        return out
    }

    /// Lower-case hexadecimal digest (64 characters), as `sha256sum` prints it.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var chars: [UInt8] = []
        chars.reserveCapacity(64)
        for byte in bytes {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// The first 16 hex digits: enough to tell blocks apart in logs.
    public var description: String { String(hex.prefix(16)) }

    /// Hashes only the first word: the digest is uniformly random already.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(w0)
    }

    /// Appends the 32 digest bytes to a byte buffer being hashed.
    func append(to buffer: inout [UInt8]) {
        for word in [w0, w1, w2, w3] {
            withUnsafeBytes(of: word.littleEndian) { buffer.append(contentsOf: $0) }
        }
    }
}
