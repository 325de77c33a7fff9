import CKernels

/// Rows of llama.cpp's Q8_0 (ggml-common.h `block_q8_0`): blocks of 32 elements, each an IEEE-half scale
/// `d` followed by 32 `int8` quants `q`, 34 bytes; element i of a block is `q[i] * d`.
///
/// The KV cache's `q8_0` storage (`-ctk q8_0 -ctv q8_0`). Written by `quantize`, read back by `dequantize`
/// (the unfused attention path) or directly by the fused kernel (`VectorMath.attend`), whose scalar
/// reference uses `dot` / `axpy` here.
///
/// NOTE: `quantize` is `quantize_row_q8_0_ref` (ggml-quants.c) exactly: `d = amax / 127` in f32,
/// `id = d != 0 ? 1 / d : 0`, `q = roundf(x * id)` (ties away from zero), `d` stored rounded to nearest
/// even. llama.cpp's x86 CPU path (`quantize_row_q8_0`, AVX2) multiplies by `127 / amax` and rounds ties to
/// even instead; the two differ only when `x * id` lands within an ulp or two of a half-integer.
public enum Q8_0Row {
    /// Elements per block.
    public static let blockElements = 32
    /// Bytes per block: the f16 scale, then 32 int8.
    public static let blockBytes = 34

    /// Quantizes `count` floats (a multiple of 32) at `source` into `count / 32` blocks at `destination`:
    /// the AVX2 kernel (`ck_quantize_q8_0_ref`) or `quantizeScalar`, bit for bit the same.
    @inline(__always)
    public static func quantize(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ count: Int) {
        precondition(count % blockElements == 0, "Q8_0Row.quantize: \(count) is not a multiple of 32")
        if VectorMath.useC { return ck_quantize_q8_0_ref(source, destination, Int32(count / blockElements)) }
        quantizeScalar(source, destination, count)
    }

    /// Scalar reference of `quantize`.
    public static func quantizeScalar(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer,
                                      _ count: Int) {
        precondition(count % blockElements == 0, "Q8_0Row.quantize: \(count) is not a multiple of 32")
        for b in 0..<(count / blockElements) {
            let x = source + b * blockElements
            let block = destination + b * blockBytes
            var amax: Float = 0
            for j in 0..<blockElements { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            block.storeBytes(of: Float16(d).bitPattern, as: UInt16.self)
            for j in 0..<blockElements {
                // roundf; a NaN or infinite input (never produced by a finite model) gives 0, not a trap.
                let r = (x[j] * id).rounded(.toNearestOrAwayFromZero)
                let q: Int8 = r.isFinite ? Int8(max(-128, min(127, r))) : 0
                block.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    /// `count` elements (a multiple of 32) of the blocks at `source` as f32: `q[i] * d`
    /// (`dequantize_row_q8_0`).
    public static func dequantize(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ count: Int) {
        precondition(count % blockElements == 0, "Q8_0Row.dequantize: \(count) is not a multiple of 32")
        for b in 0..<(count / blockElements) {
            let block = source + b * blockBytes
            let d = scale(block)
            let y = destination + b * blockElements
            for j in 0..<blockElements { y[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }

    /// The scale `d` of the block at `block`, as f32.
    @inline(__always)
    public static func scale(_ block: UnsafeRawPointer) -> Float {
        Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
    }

    /// `a · row` for `count` elements (a multiple of 32): per block `d * Σ a[i] * q[i]` (scalar reference of
    /// the fused attention kernel's q·k).
    public static func dot(_ a: UnsafePointer<Float>, _ row: UnsafeRawPointer, _ count: Int) -> Float {
        precondition(count % blockElements == 0, "Q8_0Row.dot: \(count) is not a multiple of 32")
        var sum: Float = 0
        for b in 0..<(count / blockElements) {
            let block = row + b * blockBytes
            var s: Float = 0
            for j in 0..<blockElements { s += a[b * blockElements + j] * Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) }
            sum += scale(block) * s
        }
        return sum
    }

    /// `y += s * row` for `count` elements (a multiple of 32): per block `y[i] += (s * d) * q[i]` (scalar
    /// reference of the fused attention kernel's p·V).
    public static func axpy(_ s: Float, _ row: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        precondition(count % blockElements == 0, "Q8_0Row.axpy: \(count) is not a multiple of 32")
        for b in 0..<(count / blockElements) {
            let block = row + b * blockBytes
            let sd = s * scale(block)
            for j in 0..<blockElements {
                y[b * blockElements + j] += sd * Float(block.load(fromByteOffset: 2 + j, as: Int8.self))
            }
        }
    }
}
