import CKernels

/// A Linear layer y = x·Wᵀ (+ b) whose weight W [outputs, inputs] (PyTorch Linear layout, inputs contiguous) is
/// packed once, at load, for the outer-product f32 GEMM of `ck_sgemm_packed` (ck_sgemm_packed.c): panels of
/// `panelWidth` (32) outputs, input-major inside a panel, so one 32-float row of a panel feeds 32 outputs per
/// input element: `packed[(j / 32) * 32 * inputs + p * 32 + j % 32] = W[j, p]` (outputs past the end are 0).
/// Several layers with the same input can be stacked into one (the encoder's Q | K | V).
///
/// Memory: `outputs` rounded up to 32, times `inputs` floats (for MiniLM-L6 exactly the size of its f32 Linear
/// weights, 42.5 MB, owned here; the mapped file's pages of those tensors are read once while packing).
///
/// NOTE: every output element is computed the same way, on every kernel and wherever it lies: sum = 0; for each
/// block of `blockLength` (64) consecutive inputs in order: acc = 0, acc = fma(x[p], W[j, p], acc) over the block
/// in order, sum = sum + acc; then sum + b[j]. So the AVX-512, AVX2 and Swift kernels agree bit for bit, and a row's result does not depend on the other rows of the call or on
/// the column split (a sentence embeds the same alone and in a batch).
///
/// NOTE: `@unchecked Sendable` is safe: the buffers are written only in `init` and only read afterwards.
public final class PackedLinear: @unchecked Sendable {
    /// One source layer: its weight rows (`outputs` rows of `inputs` floats) and optional bias.
    public struct Part {
        public let weight: UnsafePointer<Float>
        public let bias: UnsafePointer<Float>?
        public let outputs: Int
        public init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int) {
            self.weight = weight
            self.bias = bias
            self.outputs = outputs
        }
    }

    /// Which kernel `apply` runs (`.auto`: AVX-512F, else AVX2, else Swift; the others are for tests and must be
    /// supported by the CPU).
    public enum Kernel: Sendable { case auto, avx512, avx2, swift }

    public static let panelWidth = Int(CK_SGEMM_NR)
    /// Inputs summed per partial sum (the error of a 64-term sum, not of an `inputs`-term one).
    public static let blockLength = Int(CK_SGEMM_KC)
    public static let bestKernel: Kernel = ck_has_avx512f() != 0 ? .avx512 : ck_has_avx2() != 0 ? .avx2 : .swift

    public let inputs: Int
    public let outputs: Int
    private let packed: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?

    /// Packs `parts` stacked in order (outputs 0 ..< parts[0].outputs from the first, and so on). Either every
    /// part has a bias or none has.
    public init(inputs: Int, parts: [Part]) {
        precondition(inputs > 0 && !parts.isEmpty && parts.allSatisfy { $0.outputs > 0 }, "empty Linear layer")
        precondition(parts.allSatisfy { $0.bias != nil } || parts.allSatisfy { $0.bias == nil },
                     "either every stacked part has a bias or none has")
        let nr = Self.panelWidth
        let outputs = parts.reduce(0) { $0 + $1.outputs }
        let panels = (outputs + nr - 1) / nr
        let raw = UnsafeMutableRawPointer.allocate(byteCount: panels * nr * inputs * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        let packed = raw.initializeMemory(as: Float.self, repeating: 0, count: panels * nr * inputs)
        let bias: UnsafeMutablePointer<Float>? = parts[0].bias == nil ? nil : .allocate(capacity: outputs)
        var j = 0
        for part in parts {
            for r in 0..<part.outputs {
                let src = part.weight + r * inputs
                let dst = packed + (j / nr) * nr * inputs + j % nr
                for p in 0..<inputs { dst[p * nr] = src[p] }
                bias?[j] = part.bias![r]
                j += 1
            }
        }
        self.inputs = inputs
        self.outputs = outputs
        self.packed = packed
        self.bias = bias
    }

    deinit {
        packed.deallocate()
        bias?.deallocate()
    }

    /// c[i·ldc + j] = Σ_p a[i·lda + p]·W[j, p] (+ b[j]) for i < m and j in `columns` (c is the whole output row,
    /// column 0 at c). `columns.lowerBound` must be a multiple of `panelWidth` (split with that granularity).
    public func apply(_ a: UnsafePointer<Float>, rows m: Int, lda: Int, out c: UnsafeMutablePointer<Float>, ldc: Int,
                      columns: Range<Int>, kernel: Kernel = .auto) {
        precondition(columns.lowerBound % Self.panelWidth == 0 && columns.upperBound <= outputs, "bad column range")
        if m == 0 || columns.isEmpty { return }
        let j0 = columns.lowerBound, n = columns.count, k = inputs
        switch kernel == .auto ? Self.bestKernel : kernel {
        case .avx512, .auto:
            precondition(Self.bestKernel == .avx512, "the AVX-512 kernel needs AVX-512F")
            ck_sgemm_packed(2, Int32(m), Int32(n), Int32(k), a, lda, packed + j0 * k, c + j0, ldc, bias.map { $0 + j0 })
        case .avx2:
            precondition(Self.bestKernel != .swift, "the AVX2 kernel needs AVX2 + FMA")
            ck_sgemm_packed(1, Int32(m), Int32(n), Int32(k), a, lda, packed + j0 * k, c + j0, ldc, bias.map { $0 + j0 })
        case .swift:
            let nr = Self.panelWidth, kc = Self.blockLength
            for i in 0..<m {
                let row = a + i * lda
                for j in columns {
                    let w = packed + (j / nr) * nr * k + j % nr
                    var sum: Float = 0
                    for p0 in stride(from: 0, to: k, by: kc) {
                        var acc: Float = 0
                        for p in p0..<min(p0 + kc, k) { acc = acc.addingProduct(row[p], w[p * nr]) }
                        sum += acc
                    }
                    c[i * ldc + j] = bias.map { sum + $0[j] } ?? sum
                }
            }
        }
    }
}
