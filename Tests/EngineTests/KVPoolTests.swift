import Foundation
import NumericCore
import Tensor
import Testing
@testable import Engine

/// `KVPool` in every storage type: byte geometry, row addressing (no two rows overlap), store/load round
/// trips, q8_0 bytes against a quantizer written here from llama.cpp's `quantize_row_q8_0_ref`, and the
/// whole-block export/import the KV tiers use.
@Suite("KV pool")
struct KVPoolTests {
    /// `quantize_row_q8_0_ref` (ggml-quants.c), written from the spec: per 32 elements `amax = max|x|`,
    /// `d = amax / 127`, `id = d ? 1/d : 0`, bytes = f16(d) little-endian, then `int8(roundf(x * id))`.
    static func specQ8_0(_ x: [Float]) -> [UInt8] {
        precondition(x.count % 32 == 0)
        var out: [UInt8] = []
        for b in stride(from: 0, to: x.count, by: 32) {
            let block = x[b..<(b + 32)]
            let amax = block.reduce(Float(0)) { Swift.max($0, fabsf($1)) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            let bits = Float16(d).bitPattern
            out += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            out += block.map { UInt8(bitPattern: Int8(roundf($0 * id))) }
        }
        return out
    }

    @Test(arguments: KVCacheDType.allCases)
    func geometryCountsRealBytes(dtype: KVCacheDType) {
        // Gemma 3 270M: 18 layers, one KV head of 256.
        let pool = KVPool(layerCount: 18, kvDim: 256, blockSize: 16, blockCount: 3, dtype: dtype)
        let rowBytes = [KVCacheDType.f32: 1024, .f16: 512, .q8_0: 272][dtype]!
        #expect(pool.rowBytes == rowBytes)
        #expect(pool.layerBlockBytes == 16 * rowBytes)
        #expect(pool.blockBytes == 2 * 18 * 16 * rowBytes)
        #expect(pool.byteCount == 3 * pool.blockBytes)
        #expect(KVPool.bytesPerToken(layerCount: 18, kvDim: 256, dtype: dtype) == 2 * 18 * rowBytes)
        #expect(pool.keyBlock(1, 2) - pool.keyBlock(0, 0) == (3 + 2) * pool.layerBlockBytes)
        #expect(pool.valueBlock(0, 1) - pool.valueBlock(0, 0) == pool.layerBlockBytes)
        #expect(pool.row(pool.keyBlock(0, 0), 5) - pool.keyBlock(0, 0) == 5 * rowBytes)
        // A KV head's slice: 128 elements in (q8_0: 4 blocks of 34 bytes).
        #expect(pool.element(pool.keyBlock(0, 0), 128) - pool.keyBlock(0, 0) == rowBytes / 2)
    }

    @Test func kvCacheGiBCountsQ8Bytes() throws {
        let config = try ModelConfig(file: GGUFFile(path: try TestPaths.require(TestPaths.gemma)))
        #expect(config.layerCount == 18 && config.kvDim == 256)
        // 2 x 18 layers x 272 bytes = 9792 bytes per token.
        #expect(EngineOptions.kvTokens(forGiB: 1, config: config, dtype: .q8_0) == 1_073_741_824 / 9792)
        #expect(EngineOptions.kvTokens(forGiB: 1, config: config, dtype: .f16) == 1_073_741_824 / 18432)
    }

    /// Known values: d = 1 (amax 127) and d = 2 (amax -254) make every product exact, so rounding is visible:
    /// ties go away from zero (2.5 -> 3, -2.5 -> -3, 126.5 -> 127), the amax element maps to exactly ±127.
    @Test func q8StoreMatchesReferenceRounding() {
        let pool = KVPool(layerCount: 1, kvDim: 96, blockSize: 1, blockCount: 1, dtype: .q8_0)
        var x = [Float](repeating: 0, count: 96)
        x[0..<8] = [127, 2.5, -2.5, 0.5, -0.5, 1.5, 126.49, -126.5]
        x[32..<39] = [-254, 5, -1, 0.99, 253, -3, 7]
        // Block 2 stays all zero: d = 0, q = 0.
        let row = pool.keyBlock(0, 0)
        pool.store(x, at: row, count: 96)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: row, count: pool.rowBytes))
        #expect(bytes.count == 3 * 34)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)                          // f16 1.0
        #expect(bytes[2..<10].map { Int8(bitPattern: $0) } == [127, 3, -3, 1, -1, 2, 126, -127])
        #expect(bytes[34] == 0x00 && bytes[35] == 0x40)                        // f16 2.0
        #expect(bytes[36..<43].map { Int8(bitPattern: $0) } == [-127, 3, -1, 0, 127, -2, 4])
        #expect(bytes[68..<102].allSatisfy { $0 == 0 })
        #expect(bytes == Self.specQ8_0(x))
        var back = [Float](repeating: .nan, count: 96)
        pool.load(row, into: &back, count: 96)
        #expect(Array(back[0..<8]) == [127, 3, -3, 1, -1, 2, 126, -127])
        #expect(Array(back[32..<39]) == [-254, 6, -2, 0, 254, -4, 8])
    }

    /// Random rows at several scales (Gemma's keys reach ~±30 after QK-norm and RoPE) quantize to exactly the
    /// reference's bytes, and decode within half a step plus the f16 rounding of the scale.
    @Test func q8RandomRowsMatchReferenceBytes() {
        var rng = SystemRandomNumberGenerator()
        let n = 256
        let pool = KVPool(layerCount: 1, kvDim: n, blockSize: 1, blockCount: 1, dtype: .q8_0)
        for scale: Float in [1e-3, 1, 30, 1000] {
            for _ in 0..<50 {
                let x = (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
                let row = pool.keyBlock(0, 0)
                pool.store(x, at: row, count: n)
                let bytes = [UInt8](UnsafeRawBufferPointer(start: row, count: pool.rowBytes))
                #expect(bytes == Self.specQ8_0(x))
                var back = [Float](repeating: .nan, count: n)
                pool.load(row, into: &back, count: n)
                for b in 0..<(n / 32) {
                    let block = x[(b * 32)..<(b * 32 + 32)]
                    let d = block.reduce(Float(0)) { max($0, abs($1)) } / 127
                    let d16 = Float(Float16(d))
                    let bound = Double(d) / 2 + 127 * Double(abs(d - d16)) + 1e-6 * Double(scale)
                    for i in block.indices { #expect(abs(Double(x[i]) - Double(back[i])) <= bound) }
                }
            }
        }
    }

    @Test(arguments: KVCacheDType.allCases)
    func roundTripPerType(dtype: KVCacheDType) {
        var rng = SystemRandomNumberGenerator()
        let pool = KVPool(layerCount: 1, kvDim: 64, blockSize: 1, blockCount: 1, dtype: dtype)
        let x = (0..<64).map { _ in Float.random(in: -40...40, using: &rng) }
        pool.store(x, at: pool.valueBlock(0, 0), count: 64)
        var back = [Float](repeating: .nan, count: 64)
        pool.load(pool.valueBlock(0, 0), into: &back, count: 64)
        switch dtype {
        case .f32: #expect(back == x)
        case .f16: #expect(back == x.map { Float(Float16($0)) })
        case .q8_0:
            var expected = [Float](repeating: .nan, count: 64)
            Self.specQ8_0(x).withUnsafeBytes { Q8_0Row.dequantize($0.baseAddress!, &expected, 64) }
            #expect(back == expected)
        }
    }

    /// Every (layer, block, slot) row of K and V gets its own values; all read back intact (no overlap), and a
    /// block exported from one pool and imported into another block of a second pool reads back the same,
    /// with the layout the KV tiers rely on: for each layer, keys then values, `layerBlockBytes` each.
    @Test(arguments: KVCacheDType.allCases)
    func rowsAreDisjointAndBlocksMoveWhole(dtype: KVCacheDType) {
        var rng = SystemRandomNumberGenerator()
        let layers = 3, kvDim = 64, bs = 4, blocks = 3
        let a = KVPool(layerCount: layers, kvDim: kvDim, blockSize: bs, blockCount: blocks, dtype: dtype)
        let b = KVPool(layerCount: layers, kvDim: kvDim, blockSize: bs, blockCount: blocks, dtype: dtype)
        func rows(_ pool: KVPool, layer: Int, block: Int) -> [[Float]] {
            (0..<bs).flatMap { slot in
                [pool.row(pool.keyBlock(layer, block), slot), pool.row(pool.valueBlock(layer, block), slot)].map { r in
                    var out = [Float](repeating: .nan, count: kvDim)
                    pool.load(r, into: &out, count: kvDim)
                    return out
                }
            }
        }
        var written: [[[[Float]]]] = []   // [layer][block] -> rows as read back right after writing
        for l in 0..<layers {
            written.append([])
            for blk in 0..<blocks {
                for slot in 0..<bs {
                    for base in [a.keyBlock(l, blk), a.valueBlock(l, blk)] {
                        let x = (0..<kvDim).map { _ in Float.random(in: -5...5, using: &rng) }
                        a.store(x, at: a.row(base, slot), count: kvDim)
                    }
                }
                written[l].append(rows(a, layer: l, block: blk))
            }
        }
        for l in 0..<layers { for blk in 0..<blocks { #expect(rows(a, layer: l, block: blk) == written[l][blk]) } }

        var buffer = [UInt8](repeating: 0, count: a.blockBytes)
        buffer.withUnsafeMutableBytes { a.exportBlock(1, into: $0) }
        for l in 0..<layers {
            let keys = [UInt8](UnsafeRawBufferPointer(start: a.keyBlock(l, 1), count: a.layerBlockBytes))
            let values = [UInt8](UnsafeRawBufferPointer(start: a.valueBlock(l, 1), count: a.layerBlockBytes))
            let at = 2 * l * a.layerBlockBytes
            #expect(Array(buffer[at..<(at + a.layerBlockBytes)]) == keys)
            #expect(Array(buffer[(at + a.layerBlockBytes)..<(at + 2 * a.layerBlockBytes)]) == values)
        }
        buffer.withUnsafeBytes { b.importBlock(2, from: $0) }
        for l in 0..<layers { #expect(rows(b, layer: l, block: 2) == written[l][1]) }
    }

    @Test func q8NeedsHeadsOfWholeBlocks() {
        #expect(throws: EngineError.self) { try KVCacheDType.q8_0.check(headDim: 80) }
        #expect(throws: Never.self) { try KVCacheDType.q8_0.check(headDim: 256) }
        #expect(throws: Never.self) { try KVCacheDType.f16.check(headDim: 80) }
    }
}
