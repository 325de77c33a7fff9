// Reference: the range splitting of Rust's `regex-syntax` utf8 module (after Russ Cox's RE2 notes):
// a code-point range becomes byte-range sequences, each byte position one range.

/// Turns sets of code points into sets of UTF-8 byte sequences, so the grammar matcher works on bytes
/// (token pieces are bytes, and a token may end in the middle of a character).
public enum UTF8Ranges {
    static let maxScalar: UInt32 = 0x10FFFF
    static let surrogates: ClosedRange<UInt32> = 0xD800...0xDFFF

    /// UTF-8 encoding of a scalar value (the caller guarantees it is one).
    public static func encode(_ scalar: UInt32) -> [UInt8] {
        switch scalar {
        case 0..<0x80: return [UInt8(scalar)]
        case 0x80..<0x800: return [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
        case 0x800..<0x10000:
            return [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | scalar >> 6 & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        default:
            return [UInt8(0xF0 | scalar >> 18), UInt8(0x80 | scalar >> 12 & 0x3F), UInt8(0x80 | scalar >> 6 & 0x3F),
                    UInt8(0x80 | scalar & 0x3F)]
        }
    }

    /// The scalar values in `ranges` (or, `negated`, every scalar value not in them), sorted, merged, with
    /// surrogates and anything past U+10FFFF removed.
    public static func normalize(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> [ClosedRange<UInt32>] {
        var merged: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where r.lowerBound <= maxScalar {
            let r = r.lowerBound...min(r.upperBound, maxScalar)
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        if negated {
            var complement: [ClosedRange<UInt32>] = []
            var next: UInt32 = 0
            for r in merged {
                if r.lowerBound > next { complement.append(next...(r.lowerBound - 1)) }
                next = r.upperBound + 1
            }
            if next <= maxScalar { complement.append(next...maxScalar) }
            merged = complement
        }
        // Cut the surrogates out.
        return merged.flatMap { r -> [ClosedRange<UInt32>] in
            guard r.overlaps(surrogates) else { return [r] }
            var parts: [ClosedRange<UInt32>] = []
            if r.lowerBound < surrogates.lowerBound { parts.append(r.lowerBound...(surrogates.lowerBound - 1)) }
            if r.upperBound > surrogates.upperBound { parts.append((surrogates.upperBound + 1)...r.upperBound) }
            return parts
        }
    }

    /// Byte-range sequences whose union is exactly the UTF-8 encodings of the scalars in `ranges`
    /// (already normalized: no surrogates).
    public static func sequences(_ ranges: [ClosedRange<UInt32>]) -> [[ClosedRange<UInt8>]] {
        var out: [[ClosedRange<UInt8>]] = []
        for r in ranges { split(r.lowerBound, r.upperBound, into: &out) }
        return out
    }

    private static func split(_ lo: UInt32, _ hi: UInt32, into out: inout [[ClosedRange<UInt8>]]) {
        for boundary: UInt32 in [0x7F, 0x7FF, 0xFFFF] where lo <= boundary && boundary < hi {
            split(lo, boundary, into: &out)
            split(boundary + 1, hi, into: &out)
            return
        }
        let length = encode(lo).count
        if length > 1 {
            for k in 1..<length {
                let m: UInt32 = (1 << (6 * UInt32(k))) - 1
                if lo & ~m != hi & ~m {
                    if lo & m != 0 {
                        split(lo, lo | m, into: &out)
                        split((lo | m) + 1, hi, into: &out)
                        return
                    }
                    if hi & m != m {
                        split(lo, (hi & ~m) - 1, into: &out)
                        split(hi & ~m, hi, into: &out)
                        return
                    }
                }
            }
        }
        let a = encode(lo), b = encode(hi)
        out.append(zip(a, b).map { $0...$1 })
    }
}
