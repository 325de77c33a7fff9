@testable import Tensor

/// Deterministic SplitMix64 generator so every failure reproduces.
struct QuantRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Independent binary16 decoding for the tests (hardware/compiler-rt conversion via `Float16`).
func quantF16(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

/// f16 bits of a random sane block scale: magnitude in [2^-10, 2^-3], random sign unless `positive`.
func quantRandomScaleBits(_ rng: inout QuantRNG, positive: Bool = false) -> UInt16 {
    let magnitude = Float.random(in: 0.001...0.125, using: &rng)
    let sign: Float = positive || Bool.random(using: &rng) ? 1 : -1
    return Float16(sign * magnitude).bitPattern
}

/// Random bytes for `blocks` blocks of `type`, with every f16 scale replaced by a sane value
/// (random bytes could encode NaN/inf scales). f32/f16/bf16 get random values in [-1, 1].
func quantRandomRow(_ type: GGMLType, n: Int, rng: inout QuantRNG) -> [UInt8] {
    var bytes = (0..<type.rowBytes(n)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    func putHalf(_ bits: UInt16, at offset: Int) {
        bytes[offset] = UInt8(bits & 0xFF)
        bytes[offset + 1] = UInt8(bits >> 8)
    }
    let blocks = n / type.blockSize
    for b in 0..<blocks {
        let base = b * type.typeSize
        switch type {
        case .f32:
            let v = Float.random(in: -1...1, using: &rng).bitPattern
            for k in 0..<4 { bytes[base + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
        case .f16:
            putHalf(Float16(Float.random(in: -1...1, using: &rng)).bitPattern, at: base)
        case .bf16:
            putHalf(UInt16(Float.random(in: -1...1, using: &rng).bitPattern >> 16), at: base)
        case .q4_0, .q5_0, .q8_0:
            putHalf(quantRandomScaleBits(&rng), at: base)
        case .q4_K, .q5_K:
            putHalf(quantRandomScaleBits(&rng, positive: true), at: base)
            putHalf(quantRandomScaleBits(&rng, positive: true), at: base + 2)
        case .q6_K:
            putHalf(quantRandomScaleBits(&rng), at: base + 208)
        default:
            break
        }
    }
    return bytes
}

/// Random activations in [-1, 1] with a few large outliers, like Gemma's residual stream.
func quantRandomActivations(count: Int, rng: inout QuantRNG) -> [Float] {
    (0..<count).map { i in
        let v = Float.random(in: -1...1, using: &rng)
        return i % 97 == 5 ? v * 40 : v
    }
}

/// Dequantizes a whole row through the code under test.
func quantDequantized(_ type: GGMLType, _ bytes: [UInt8], n: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    bytes.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { dst in
            Dequant.row(type, src.baseAddress!, dst.baseAddress!, count: n)
        }
    }
    return out
}

/// The 32-element and K-quant types the engine supports, plus the float types.
let quantBlockTypes: [GGMLType] = [.q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K]
let quantFloatTypes: [GGMLType] = [.f32, .f16, .bf16]
