import Crypto
import PrefixCache

/// The bytes of one KV block in a tier, and the one place that decides whether such bytes may enter
/// attention.
///
/// Layout (integers little-endian):
///
/// | offset | bytes | field                                                   |
/// |--------|-------|---------------------------------------------------------|
/// | 0      | 8     | magic `INFKVB01`                                        |
/// | 8      | 8     | dtype name, ASCII, zero-padded                          |
/// | 16     | 4     | layer count                                             |
/// | 20     | 4     | kvDim                                                   |
/// | 24     | 4     | block size (tokens)                                     |
/// | 28     | 4     | reserved, 0                                             |
/// | 32     | 8     | payload bytes                                           |
/// | 40     | 32    | model (SHA-256 of the fingerprint)                      |
/// | 72     | 32    | block hash (the prefix cache's chained hash)            |
/// | 104    | n     | payload: `KVPool.exportBlock` bytes                      |
/// | 104+n  | 32    | tag: SHA-256 (or HMAC-SHA256 with the tier secret) of all bytes before it |
///
/// NOTE: the tag is a checksum against corruption (flipped bits, truncation, a half-written file). Without a
/// secret anyone who can write to the tier can compute it, so a forged entry under a known hash would pass;
/// with `--kv-tier-secret` the tag is an HMAC and only holders of the secret can make entries that pass.
/// The header makes an entry of another model, type or shape, or one filed under the wrong hash, a miss
/// whatever its tag.
public enum KVBlockEntry {
    static let magic = Array("INFKVB01".utf8)
    static let headerBytes = 104
    static let tagBytes = 32

    /// Total entry size for a layout.
    public static func size(_ layout: KVBlockLayout) -> Int { headerBytes + layout.blockBytes + tagBytes }

    /// Encodes `payload` (exactly `layout.blockBytes`) as the entry of `hash`.
    public static func encode(hash: BlockHash, payload: UnsafeRawBufferPointer, layout: KVBlockLayout,
                              secret: [UInt8]?) -> [UInt8] {
        precondition(payload.count == layout.blockBytes)
        var out: [UInt8] = []
        out.reserveCapacity(size(layout))
        out += header(hash: hash, layout: layout)
        out.append(contentsOf: payload)
        out += tag(out[...], secret: secret)
        return out
    }

    /// Why an entry was refused.
    public enum Rejection: String, Sendable, Error {
        case length, magic, layout, model, hash, tag
    }

    /// Checks an entry read for `hash` against `layout`: length, magic, every header field, and the tag.
    /// Returns the byte range of the payload inside `entry`, or the first reason it is refused.
    public static func verify(_ entry: [UInt8], hash: BlockHash, layout: KVBlockLayout,
                              secret: [UInt8]?) -> Result<Range<Int>, Rejection> {
        guard entry.count == size(layout) else { return .failure(.length) }
        guard entry[0..<8].elementsEqual(magic) else { return .failure(.magic) }
        let expected = header(hash: hash, layout: layout)
        guard entry[8..<40].elementsEqual(expected[8..<40]) else { return .failure(.layout) }
        guard entry[40..<72].elementsEqual(expected[40..<72]) else { return .failure(.model) }
        guard entry[72..<104].elementsEqual(expected[72..<104]) else { return .failure(.hash) }
        let body = entry.count - tagBytes
        let computed = tag(entry[..<body], secret: secret)
        var difference: UInt8 = 0   // constant time: the tag may be an HMAC
        for (a, b) in zip(computed, entry[body...]) { difference |= a ^ b }
        guard difference == 0 else { return .failure(.tag) }
        return .success(headerBytes..<body)
    }

    static func header(hash: BlockHash, layout: KVBlockLayout) -> [UInt8] {
        var h: [UInt8] = []
        h.reserveCapacity(headerBytes)
        h += magic
        var dtype = Array(layout.dtype.utf8.prefix(8))
        dtype += [UInt8](repeating: 0, count: 8 - dtype.count)
        h += dtype
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { h += $0 } }
        u32(layout.layerCount)
        u32(layout.kvDim)
        u32(layout.blockSize)
        u32(0)
        withUnsafeBytes(of: UInt64(layout.blockBytes).littleEndian) { h += $0 }
        h += layout.model
        h += hash.bytes
        return h
    }

    static func tag(_ bytes: ArraySlice<UInt8>, secret: [UInt8]?) -> [UInt8] {
        if let secret {
            return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: secret)))
        }
        return Array(SHA256.hash(data: bytes))
    }
}
