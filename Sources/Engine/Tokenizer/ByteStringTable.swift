/// An open-addressing hash map from byte strings to `Int32`, built for token-text lookups.
///
/// NOTE: token texts are compared as raw UTF-8 bytes, never as Swift `String`s: `String` equality is
/// Unicode canonical equivalence ("é" == "e\u{301}"), which would merge distinct vocabulary entries.
/// Keys are copied into one contiguous buffer, so a 262,144-entry vocabulary costs a handful of
/// allocations and lookups never allocate (the hot loops of both encoders call `value(for:)`).
struct ByteStringTable: Sendable {
    private var keyBytes: [UInt8] = []
    /// Entry i's key is `keyBytes[keyStarts[i] ..< keyStarts[i + 1]]`.
    private var keyStarts: [Int32] = [0]
    private var hashes: [UInt64] = []
    private(set) var values: [Int32] = []
    /// Power-of-two table of entry indices, -1 for an empty slot.
    private var slots: [Int32]
    private var mask: Int

    /// Number of distinct keys.
    var count: Int { values.count }

    init(minimumCapacity: Int = 16) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// FNV-1a over the bytes followed by a murmur3 finalizer (cheap, and well mixed in the low bits).
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// The value stored for `key`, if any.
    @inline(__always)
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        let entry = find(key, hash: Self.hash(key))
        return entry < 0 ? nil : values[entry]
    }

    /// Convenience lookup for an array or array slice.
    func value(for key: ArraySlice<UInt8>) -> Int32? {
        key.withUnsafeBufferPointer { value(for: $0) }
    }

    /// Stores `value` for `key`. When the key is already present, `overwrite` decides whether the new value
    /// replaces the old one (llama.cpp `map[k] = v`) or is ignored (`map.emplace(k, v)`).
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, value: Int32, overwrite: Bool) {
        let h = Self.hash(key)
        let existing = find(key, hash: h)
        if existing >= 0 {
            if overwrite { values[existing] = value }
            return
        }
        if (values.count + 1) * 2 > slots.count { grow() }
        keyBytes.append(contentsOf: key)
        keyStarts.append(Int32(keyBytes.count))
        hashes.append(h)
        values.append(value)
        place(entry: values.count - 1, hash: h)
    }

    /// Convenience insert for an array or array slice.
    mutating func insert(_ key: ArraySlice<UInt8>, value: Int32, overwrite: Bool) {
        key.withUnsafeBufferPointer { insert($0, value: value, overwrite: overwrite) }
    }

    /// Index of the entry whose key equals `key`, or -1.
    @inline(__always)
    private func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int {
        var slot = Int(truncatingIfNeeded: h) & mask
        return keyBytes.withUnsafeBufferPointer { stored in
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return -1 }
                if hashes[entry] == h {
                    let start = Int(keyStarts[entry]), end = Int(keyStarts[entry + 1])
                    if end - start == key.count, Self.equal(stored, start, key) { return entry }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    @inline(__always)
    private static func equal(_ stored: UnsafeBufferPointer<UInt8>, _ start: Int,
                              _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        for i in 0..<key.count where stored[start + i] != key[i] { return false }
        return true
    }

    private mutating func place(entry: Int, hash h: UInt64) {
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entry)
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for entry in 0..<values.count { place(entry: entry, hash: hashes[entry]) }
    }
}
