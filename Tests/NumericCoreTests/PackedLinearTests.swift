import Testing
@testable import NumericCore

/// PackedLinear (the sentence encoder's packed f32 GEMM, ck_sgemm_packed.c) against a Double-precision product of
/// the unpacked weights, its kernels against each other bit for bit, and the batch / split invariance the
/// encoder's "a sentence embeds the same alone and in a batch" rests on.
@Suite("PackedLinear")
struct PackedLinearTests {
    /// Deterministic SplitMix64 so every failure reproduces.
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The C kernels this CPU can run, then the Swift reference.
    static let kernels: [PackedLinear.Kernel] = {
        switch PackedLinear.bestKernel {
        case .avx512: return [.avx512, .avx2, .swift]
        case .avx2: return [.avx2, .swift]
        default: return [.swift]
        }
    }()

    /// m x n x k with none of them a multiple of the tiles (12 or 3 rows, 32 columns) in most cases, k < 8 too.
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (13, 33, 7), (5, 70, 3), (25, 100, 385), (12, 64, 16), (2, 31, 40), (37, 96, 1), (14, 32, 129),
        (4, 384, 384),
    ]

    struct Case {
        let m, n, k: Int
        let a, w: [Float]
        let bias: [Float]?
        init(_ m: Int, _ n: Int, _ k: Int, bias hasBias: Bool, seed: UInt64) {
            var rng = RNG(state: seed)
            self.m = m; self.n = n; self.k = k
            a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            bias = hasBias ? (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } : nil
        }

        func packed() -> PackedLinear {
            w.withUnsafeBufferPointer { wp in
                if let bias {
                    return bias.withUnsafeBufferPointer { bp in
                        PackedLinear(inputs: k, parts: [.init(weight: wp.baseAddress!, bias: bp.baseAddress!, outputs: n)])
                    }
                }
                return PackedLinear(inputs: k, parts: [.init(weight: wp.baseAddress!, bias: nil, outputs: n)])
            }
        }

        /// Rows `rows` of A times the packed weights, columns `columns` (the rest of the row stays NaN).
        func run(_ p: PackedLinear, rows: Range<Int>, columns: Range<Int>? = nil, _ kernel: PackedLinear.Kernel) -> [Float] {
            var c = [Float](repeating: .nan, count: rows.count * n)
            a.withUnsafeBufferPointer { ap in
                p.apply(ap.baseAddress! + rows.lowerBound * k, rows: rows.count, lda: k, out: &c, ldc: n,
                        columns: columns ?? 0..<n, kernel: kernel)
            }
            return c
        }
    }

    @Test("every kernel is within the blocked-sum error bound of a Double product", arguments: shapes, [false, true])
    func matchesDoubleReference(shape: (m: Int, n: Int, k: Int), bias: Bool) {
        let t = Case(shape.m, shape.n, shape.k, bias: bias, seed: UInt64(shape.m * 1_000_003 + shape.n * 1009 + shape.k))
        let p = t.packed()
        for kernel in Self.kernels {
            let c = t.run(p, rows: 0..<t.m, kernel)
            for i in 0..<t.m {
                for j in 0..<t.n {
                    var exact = 0.0, magnitude = 0.0
                    for q in 0..<t.k {
                        let x = Double(t.a[i * t.k + q]) * Double(t.w[j * t.k + q])
                        exact += x
                        magnitude += abs(x)
                    }
                    if let b = t.bias { exact += Double(b[j]); magnitude += abs(Double(b[j])) }
                    // A 64-term block sum, a sum over the blocks, the bias: at most min(k, 64) + blocks + 1
                    // roundings, |error| <= that many u·Σ|terms| (u = 2^-24, first order; doubled).
                    let kc = PackedLinear.blockLength, blocks = (t.k + kc - 1) / kc
                    let bound = 2 * Double(min(t.k, kc) + blocks + 1) * 0x1p-24 * magnitude
                    #expect(abs(Double(c[i * t.n + j]) - exact) <= bound, "\(kernel) \(shape) c[\(i), \(j)]")
                }
            }
        }
    }

    @Test("C kernels equal the Swift reference bit for bit", arguments: shapes, [false, true])
    func kernelsAgreeBitForBit(shape: (m: Int, n: Int, k: Int), bias: Bool) {
        let t = Case(shape.m, shape.n, shape.k, bias: bias, seed: UInt64(shape.k * 7919 + shape.n))
        let p = t.packed()
        let reference = t.run(p, rows: 0..<t.m, .swift)
        #expect(!reference.contains { $0.isNaN })
        for kernel in Self.kernels {
            #expect(t.run(p, rows: 0..<t.m, kernel).map(\.bitPattern) == reference.map(\.bitPattern), "\(kernel) \(shape)")
        }
    }

    @Test("row i of an m-row product equals the same row alone; a panel-aligned column split changes nothing",
          arguments: shapes, [false, true])
    func batchAndSplitInvariance(shape: (m: Int, n: Int, k: Int), bias: Bool) {
        let t = Case(shape.m, shape.n, shape.k, bias: bias, seed: UInt64(shape.m * 31 + shape.k))
        let p = t.packed()
        for kernel in Self.kernels {
            let all = t.run(p, rows: 0..<t.m, kernel).map(\.bitPattern)
            for i in 0..<t.m {
                let alone = t.run(p, rows: i..<(i + 1), kernel).map(\.bitPattern)
                #expect(alone == Array(all[(i * t.n)..<((i + 1) * t.n)]), "\(kernel) \(shape) row \(i)")
            }
            // Two threads' worth of columns, split at a panel boundary, as BertEncoder's pool does.
            let cut = PackedLinear.panelWidth
            guard t.n > cut else { continue }
            let left = t.run(p, rows: 0..<t.m, columns: 0..<cut, kernel)
            let right = t.run(p, rows: 0..<t.m, columns: cut..<t.n, kernel)
            let merged = (0..<(t.m * t.n)).map { $0 % t.n < cut ? left[$0] : right[$0] }
            #expect(merged.map(\.bitPattern) == all, "\(kernel) \(shape) split at \(cut)")
        }
    }

    /// Calls `body` with the base addresses of all `arrays` (valid only inside `body`).
    static func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
        guard let first = arrays.first else { return body([]) }
        return first.withUnsafeBufferPointer { head in
            withPointers(Array(arrays.dropFirst())) { body([head.baseAddress!] + $0) }
        }
    }

    @Test("stacked parts (Q | K | V) equal the parts packed alone, bit for bit")
    func stackedEqualsSeparate() {
        let k = 45, m = 9, sizes = [20, 13, 40]  // part boundaries fall inside panels
        let parts = sizes.enumerated().map { Case(m, $1, k, bias: true, seed: UInt64(100 + $0)) }
        let input = parts[0].a  // every part multiplies the same rows
        let total = sizes.reduce(0, +)
        let stacked = Self.withPointers(parts.map(\.w) + parts.map { $0.bias! }) { p in
            PackedLinear(inputs: k, parts: parts.indices.map {
                .init(weight: p[$0], bias: p[parts.count + $0], outputs: parts[$0].n)
            })
        }
        #expect(stacked.outputs == total && stacked.inputs == k)
        for kernel in Self.kernels {
            var out = [Float](repeating: .nan, count: m * total)
            input.withUnsafeBufferPointer {
                stacked.apply($0.baseAddress!, rows: m, lda: k, out: &out, ldc: total, columns: 0..<total, kernel: kernel)
            }
            var offset = 0
            for part in parts {
                var alone = [Float](repeating: .nan, count: m * part.n)
                input.withUnsafeBufferPointer {
                    part.packed().apply($0.baseAddress!, rows: m, lda: k, out: &alone, ldc: part.n, columns: 0..<part.n,
                                        kernel: kernel)
                }
                for r in 0..<m {
                    let got = out[(r * total + offset)..<(r * total + offset + part.n)].map(\.bitPattern)
                    #expect(got == alone[(r * part.n)..<((r + 1) * part.n)].map(\.bitPattern), "\(kernel) row \(r)")
                }
                offset += part.n
            }
        }
    }
}
