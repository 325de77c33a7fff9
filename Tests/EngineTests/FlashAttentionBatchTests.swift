import Foundation
import NumericCore
import Tensor
import Testing
@testable import Engine

/// Attention's "alone == in batch" on the real model: rows of two sequences (one past the 512-position sliding
/// window of Gemma 3's local layers, one short) give the same logits bit for bit whether they run as one mixed
/// batch, in odd splits, or one row per forward pass (decode), for every KV cache type. Also how
/// `FlashAttentionPlan` cuts a batch: every (row, query head) exactly once, rows of a task one sequence at
/// positions p0 + i * step, and both threads busy on one sequence's chunk and on one decode row.
@Suite("Flash attention batches", .serialized)
struct FlashAttentionBatchTests {
    /// Deterministic token ids (no tokenizer needed): a spread over the vocabulary's ordinary range.
    static func tokens(_ n: Int, seed: Int) -> [Int] { (0..<n).map { 100 + ($0 * 7919 + seed * 104_729) % 20_000 } }

    @Test(arguments: KVCacheDType.allCases)
    func logitsDoNotDependOnTheBatch(_ dtype: KVCacheDType) async throws {
        let mismatches = try await offCooperativePool { () throws -> [String] in
            let file = try GGUFFile(path: TestPaths.require(TestPaths.gemma))
            let config = try ModelConfig(file: file)
            var mismatches: [String] = config.slidingWindow == 512 ? [] : ["sliding window \(config.slidingWindow)"]
            let model = Transformer(config: config, weights: try ModelWeights(file: file, config: config), maxBatch: 64)
            let bs = 16
            let lengths = [600, 90], extra = [7, 5]
            let pool = KVPool(layerCount: config.layerCount, kvDim: config.kvDim, blockSize: bs, blockCount: 80,
                              dtype: dtype)
            // Block tables interleaved in the pool (sequence 0 on even blocks, 1 on odd ones).
            let tables = (0..<2).map { s in
                BlockTable(blocks: (0..<((lengths[s] + extra[s] + bs - 1) / bs)).map { Int32(2 * $0 + s) }, count: 0)
            }
            let prompts = (0..<2).map { Self.tokens(lengths[$0] + extra[$0], seed: $0) }
            // Prefill both prompts in 64-row chunks (not compared).
            for s in 0..<2 {
                var p = 0
                while p < lengths[s] {
                    let n = min(64, lengths[s] - p)
                    let rows = (p..<(p + n)).map { BatchRow(token: prompts[s][$0], position: $0, sequence: s) }
                    _ = model.forward(rows: rows, tables: tables, kv: pool, outputRows: [n - 1])
                    p += n
                }
            }
            // The extra rows of both sequences, in order per sequence.
            let newRows = (0..<2).map { s in
                (lengths[s]..<(lengths[s] + extra[s])).map { BatchRow(token: prompts[s][$0], position: $0, sequence: s) }
            }
            func key(_ r: BatchRow) -> String { "\(r.sequence)@\(r.position)" }
            func run(_ batches: [[BatchRow]]) -> [String: [Float]] {
                var out: [String: [Float]] = [:]
                for b in batches {
                    let logits = model.forward(rows: b, tables: tables, kv: pool, outputRows: Array(b.indices))
                    let vocab = config.vocabularySize
                    for (r, row) in b.enumerated() { out[key(row)] = Array(logits[(r * vocab)..<((r + 1) * vocab)]) }
                }
                return out
            }
            let together = run([newRows[0] + newRows[1]])
            let splits = run([Array(newRows[1].prefix(2)) + Array(newRows[0].prefix(3)),
                              Array(newRows[0].dropFirst(3)) + Array(newRows[1].dropFirst(2))])
            let alone = run((0..<7).flatMap { k in (0..<2).compactMap { s in k < extra[s] ? [newRows[s][k]] : nil } })
            for row in newRows.joined() {
                let bits = together[key(row)]!.map(\.bitPattern)
                if splits[key(row)]!.map(\.bitPattern) != bits { mismatches.append("split \(key(row))") }
                if alone[key(row)]!.map(\.bitPattern) != bits { mismatches.append("alone \(key(row))") }
            }
            return mismatches
        }
        #expect(mismatches.isEmpty, "\(dtype): rows whose logits differ: \(mismatches)")
    }

    @Test func planCoversEveryRowAndHeadOnceAndKeepsBothThreadsBusy() {
        // A 64-row prefill chunk, a decode row, a 5-row verification run, and a row whose position is not
        // consecutive with the previous one of its sequence (a new segment).
        var rows = (0..<64).map { BatchRow(token: 1, position: 4096 + $0, sequence: 0) }
        rows.append(BatchRow(token: 1, position: 8191, sequence: 1))
        rows += (0..<5).map { BatchRow(token: 1, position: 300 + $0, sequence: 2) }
        rows.append(BatchRow(token: 1, position: 310, sequence: 2))
        let headCount = 8, kvHeads = 2, threads = 2
        let plan = FlashAttentionPlan(rows: rows, headCount: headCount, kvHeadCount: kvHeads, threads: threads)
        var covered = [[Int]](repeating: [Int](repeating: 0, count: headCount), count: rows.count)
        for t in plan.tasks {
            #expect(t.kvHead == t.head0 / (headCount / kvHeads) && t.kvHead == (t.head0 + t.heads - 1) / (headCount / kvHeads))
            let first = rows[t.firstRow]
            for i in 0..<t.rowCount {
                let r = t.firstRow + i * t.step
                #expect(rows[r].sequence == first.sequence && rows[r].position == first.position + i * t.step)
                for h in t.head0..<(t.head0 + t.heads) { covered[r][h] += 1 }
            }
        }
        #expect(covered.allSatisfy { $0.allSatisfy { $0 == 1 } })
        // One sequence's chunk: each thread gets half of its rows (dealt round-robin), all heads.
        let chunk = FlashAttentionPlan(rows: Array(rows.prefix(64)), headCount: 4, kvHeadCount: 1, threads: 2)
        #expect(chunk.share(0, of: 2).map(\.rowCount) == [32] && chunk.share(1, of: 2).map(\.rowCount) == [32])
        #expect(chunk.tasks.map(\.step) == [2, 2] && chunk.tasks.map(\.firstRow) == [0, 1])
        // One decode row: the query heads are split between the threads.
        let decode = FlashAttentionPlan(rows: [rows[64]], headCount: 4, kvHeadCount: 1, threads: 2)
        #expect(decode.share(0, of: 2).map(\.heads) == [2] && decode.share(1, of: 2).map(\.heads) == [2])
    }
}
