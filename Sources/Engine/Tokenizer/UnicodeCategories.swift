/// Code point classes as llama.cpp's pre-tokenizers see them (`unicode_cpt_flags`, src/unicode.cpp).
///
/// llama.cpp's table is generated from Unicode 15.1.0 `UnicodeData.txt`; we derive the same classes from
/// Swift's `Unicode.Scalar.Properties.generalCategory`, and treat code points assigned after 15.1
/// (`properties.age`) as unassigned so a newer standard library does not change tokenization.
/// Every code point inside a piece has at least one flag (`undefined` for unassigned ones); the empty set
/// stands for "outside the piece" in the matchers.
struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt16
    static let undefined = CodepointFlags(rawValue: 1 << 0)
    /// \p{N}: Nd, Nl, No.
    static let number = CodepointFlags(rawValue: 1 << 1)
    /// \p{L}: Lu, Ll, Lt, Lm, Lo.
    static let letter = CodepointFlags(rawValue: 1 << 2)
    /// \p{Z}: Zs, Zl, Zp.
    static let separator = CodepointFlags(rawValue: 1 << 3)
    /// \p{M}: Mn, Mc, Me (combining marks are not letters).
    static let mark = CodepointFlags(rawValue: 1 << 4)
    /// \p{P}: Pc, Pd, Ps, Pe, Pi, Pf, Po.
    static let punctuation = CodepointFlags(rawValue: 1 << 5)
    /// \p{S}: Sm, Sc, Sk, So.
    static let symbol = CodepointFlags(rawValue: 1 << 6)
    /// \p{C} except unassigned: Cc, Cf, Co, Cs.
    static let control = CodepointFlags(rawValue: 1 << 7)
    /// \s: exactly llama.cpp's whitespace set (see `isWhitespace`).
    static let whitespace = CodepointFlags(rawValue: 1 << 8)

    init(rawValue: UInt16) { self.rawValue = rawValue }

    var isLetter: Bool { contains(.letter) }
    var isNumber: Bool { contains(.number) }
    var isWhitespace: Bool { contains(.whitespace) }
    /// True for any code point inside the piece (llama.cpp `flags.as_uint() != 0`).
    var exists: Bool { rawValue != 0 }

    /// Flags of one code point.
    @inline(__always)
    static func of(_ cp: UInt32) -> CodepointFlags {
        if cp < 128 { return asciiTable[Int(cp)] }
        return compute(cp)
    }

    /// The whitespace set of llama.cpp (Unicode White_Space): U+0009–000D, U+0020, U+0085, U+00A0, U+1680,
    /// U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000. U+001C–001F and U+200B are not whitespace.
    static func isWhitespace(_ cp: UInt32) -> Bool {
        switch cp {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    private static let asciiTable: [CodepointFlags] = (0..<128).map { compute(UInt32($0)) }

    private static func compute(_ cp: UInt32) -> CodepointFlags {
        var flags: CodepointFlags = isWhitespace(cp) ? .whitespace : []
        guard let scalar = Unicode.Scalar(cp) else { return flags.union(.undefined) }
        let props = scalar.properties
        // Code points added after Unicode 15.1 are "undefined" in llama.cpp's table.
        if let age = props.age, age.major > 15 || (age.major == 15 && age.minor > 1) {
            return flags.union(.undefined)
        }
        switch props.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags.insert(.letter)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            flags.insert(.mark)
        case .decimalNumber, .letterNumber, .otherNumber:
            flags.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags.insert(.punctuation)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            flags.insert(.symbol)
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            flags.insert(.separator)
        case .control, .format, .surrogate, .privateUse:
            flags.insert(.control)
        case .unassigned:
            flags.insert(.undefined)
        @unknown default:
            flags.insert(.undefined)
        }
        return flags
    }
}

/// UTF-8 helpers shared by the encoders.
enum UTF8Scan {
    /// llama.cpp `unicode_len_utf8`: sequence length from the lead byte's top nibble (1 for stray bytes).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// The UTF-8 characters of `bytes` as (start, length) spans, lengths from the lead byte clamped at the
    /// end: the initial symbols of both merge tokenizers (SPM and BPE).
    static func characterSpans(_ bytes: [UInt8]) -> (starts: [Int], lens: [Int]) {
        var starts: [Int] = [], lens: [Int] = []
        var offset = 0
        while offset < bytes.count {
            let len = min(sequenceLength(bytes[offset]), bytes.count - offset)
            starts.append(offset)
            lens.append(len)
            offset += len
        }
        return (starts, lens)
    }

    /// Decodes `bytes` into code points. Ill-formed input becomes U+FFFD per offending byte, as llama.cpp's
    /// `unicode_cpts_from_utf8` does (a Swift `String` is always well-formed, so this is only a safety net).
    static func codepoints(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt32] {
        var cps: [UInt32] = []
        cps.reserveCapacity(bytes.count)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            let len = b0 < 0x80 ? 1 : (b0 < 0xC2 || b0 > 0xF4 ? 0 : sequenceLength(b0))
            var cp: UInt32 = 0xFFFD
            var used = 1
            if len == 1 {
                cp = UInt32(b0)
            } else if len > 1, i + len <= n {
                var v = UInt32(b0) & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07)
                var ok = true
                for k in 1..<len {
                    let b = bytes[i + k]
                    if b & 0xC0 != 0x80 { ok = false; break }
                    v = (v << 6) | UInt32(b & 0x3F)
                }
                let minimum: UInt32 = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000
                if ok, v >= minimum, v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) { cp = v; used = len }
            }
            cps.append(cp)
            i += used
        }
        return cps
    }
}
