/// Redis Cluster's key -> hash slot function (the cluster spec's `HASH_SLOT = CRC16(key) mod 16384`), with the
/// `{hash tag}` rule: when a key holds a `{` followed later by a `}` with at least one byte between them, only
/// the bytes between the first `{` and the first `}` after it are hashed, so keys sharing a tag share a slot.
public enum RedisKeySlot {
    /// Slots in a cluster.
    public static let count = 16384

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the variant the cluster spec names
    /// (its check value: "123456789" -> 0x31C3).
    public static func crc16<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// The slot of a binary key.
    public static func slot(_ key: [UInt8]) -> Int {
        Int(crc16(hashedPart(key)) & UInt16(count - 1))
    }

    /// The slot of a text key.
    public static func slot(_ key: String) -> Int { slot(Array(key.utf8)) }

    /// The bytes the slot is computed from: the hash tag when there is a non-empty one, else the whole key.
    static func hashedPart(_ key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
              close > open + 1 else { return key[...] }
        return key[(open + 1)..<close]
    }

    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
