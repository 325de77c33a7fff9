/// IEEE 754 binary16 <-> Float conversion in plain integer arithmetic (no F16C, no `Float16`).
///
/// Used for the `d` / `dmin` scales of every quant block (GGUF stores them as binary16, SPEC-model.md 2.2)
/// and for F16 tensors. Both directions are exact for all inputs: every binary16 value (including
/// subnormals, ±0, ±inf) is representable as a Float, and `fromFloat` rounds to nearest, ties to even,
/// like `_cvtss_sh(x, 0)` / `GGML_FP32_TO_FP16`.
public enum Half {
    /// Converts binary16 bits to a Float. NaNs stay NaN with the payload shifted into the Float mantissa.
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        // Re-bias the exponent: 127 - 15 = 112.
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Converts a Float to binary16 bits, rounding to nearest with ties to even.
    /// Values at or above 65520 in magnitude become ±inf; NaNs become quiet NaNs (payload truncated).
    @inline(__always)
    public static func fromFloat(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x03FF)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // >= 65520 rounds to inf
        if magnitude < 0x3880_0000 {
            // Below 2^-14: a binary16 subnormal (or zero). Scale by 2^24 (exact) and round to an integer
            // mantissa; 1024 carries into the smallest normal, which is the right encoding too.
            // Adding then subtracting 2^23 rounds to an integer (ties to even) for 0 <= scaled < 2^23,
            // without a libm call.
            let scaled = Float(bitPattern: magnitude) * 16_777_216.0
            let rounded = (scaled + 8_388_608.0) - 8_388_608.0
            return sign | UInt16(rounded)
        }
        var half = (magnitude >> 13) &- (112 << 10)
        let rest = magnitude & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1) { half &+= 1 }
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// Converts bfloat16 bits (the upper half of a Float) to a Float.
    @inline(__always)
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
