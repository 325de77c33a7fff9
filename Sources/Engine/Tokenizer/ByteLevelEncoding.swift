/// GPT-2's reversible byte ↔ unicode mapping (llama.cpp `unicode_byte_to_utf8_map`, SPEC-model.md 7.2).
///
/// The 188 printable bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF map to the code point of the same value; the
/// other 68 bytes map, in ascending order, to U+0100, U+0101, …. Byte-level BPE vocabularies spell their
/// tokens in this alphabet (`Ġ` = space, `Ċ` = newline), so every such character stands for one input byte.
enum ByteLevel {
    /// `scalars[b]`: the code point byte `b` is written as.
    static let scalars: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = 0x100 + n
                n += 1
            }
        }
        return map
    }()

    /// `encoded[b]`: the UTF-8 bytes of `scalars[b]` (1 byte for 0x21–0x7E, else 2).
    static let encoded: [[UInt8]] = scalars.map { cp in
        var out: [UInt8] = []
        appendUTF8(cp, to: &out)
        return out
    }

    /// Inverse map: the byte a code point below 0x144 stands for, or -1.
    static let decoded: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 0x144)
        for (b, cp) in scalars.enumerated() { inverse[Int(cp)] = Int16(b) }
        return inverse
    }()

    /// Appends the UTF-8 encoding of `cp` (a valid scalar value) to `out`.
    @inline(__always)
    static func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
        switch cp {
        case 0..<0x80:
            out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (cp >> 6)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (cp >> 12)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (cp >> 18)))
            out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }

    /// llama.cpp `llama_decode_text`: each code point of a token text back to its byte. A code point outside
    /// the map yields the literal text `[UNK_BYTE_0x<utf8 hex><token text>]`, as llama.cpp writes it.
    static func decodeToken(_ text: ArraySlice<UInt8>, into out: inout [UInt8]) {
        let cps = text.withUnsafeBufferPointer { UTF8Scan.codepoints($0) }
        for cp in cps {
            if cp < 0x144, decoded[Int(cp)] >= 0 {
                out.append(UInt8(decoded[Int(cp)]))
                continue
            }
            var utf8: [UInt8] = []
            appendUTF8(cp, to: &utf8)
            out.append(contentsOf: "[UNK_BYTE_0x".utf8)
            for b in utf8 {
                let hex = String(b, radix: 16)
                if hex.count < 2 { out.append(UInt8(ascii: "0")) }
                out.append(contentsOf: hex.utf8)
            }
            out.append(contentsOf: text)
            out.append(UInt8(ascii: "]"))
        }
    }
}
