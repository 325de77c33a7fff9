import Foundation
import Testing
import NumericCore
import Tensor
@testable import Engine

extension TestPaths {
    /// The sentence-transformers model installed in models/.
    static let minilm: URL = repo.appendingPathComponent("models/all-MiniLM-L6-v2")
}

/// `../shared/reference/minilm-l6-v2/reference.json` (independent float64 numpy encoder + HF tokenizers).
struct EmbeddingReference: Decodable {
    struct Sentence: Decodable {
        let index: Int
        let text: String
        let ids: [Int32]
        let embedding: [Double]
    }
    struct Pair: Decodable {
        let kind: String
        let a: Int
        let b: Int
        let cosine: Double
    }
    let sentences: [Sentence]
    let pairs: [Pair]
    let cosine_matrix: [[Double]]

    /// `../shared/reference/...` beside the repository, else the nearest ancestor's `shared/reference` (a
    /// working copy one level deeper, e.g. /work/dev/x next to /work/shared); fails if neither exists.
    static func load() throws -> EmbeddingReference {
        var candidate = TestPaths.referenceFile("minilm-l6-v2", "reference.json")
        var dir = TestPaths.repo.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: candidate.path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
            let up = dir.appendingPathComponent("shared/reference/minilm-l6-v2/reference.json")
            if FileManager.default.fileExists(atPath: up.path) { candidate = up }
        }
        let path = try TestPaths.require(candidate)
        return try JSONDecoder().decode(EmbeddingReference.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Loaded once for the whole suite; a missing model directory fails every test that needs it.
enum EmbeddingFixtures {
    static let embedder: Result<SentenceEmbedder, any Error> = Result {
        let dir = try TestPaths.require(TestPaths.minilm.appendingPathComponent("model.safetensors"))
        return try SentenceEmbedder(directory: URL(fileURLWithPath: dir).deletingLastPathComponent().path)
    }
    static let reference: Result<EmbeddingReference, any Error> = Result { try EmbeddingReference.load() }
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * y
        na += Double(x) * Double(x)
        nb += y * y
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite("Sentence embeddings (all-MiniLM-L6-v2)")
struct EmbeddingTests {
    @Test func loadsModel() throws {
        let e = try EmbeddingFixtures.embedder.get()
        #expect(e.dimensions == 384 && e.maxTokens == 256 && e.modelName == "all-MiniLM-L6-v2")
    }

    @Test("token ids equal HF tokenizers for every reference sentence")
    func tokenIDsMatch() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let ref = try EmbeddingFixtures.reference.get()
        #expect(ref.sentences.count == 43)
        var matched = 0
        for s in ref.sentences {
            let ids = e.tokenize(s.text)
            #expect(ids == s.ids, "sentence \(s.index): \(s.text.prefix(60).debugDescription)")
            if ids == s.ids { matched += 1 }
        }
        print("[minilm] token ids matched: \(matched)/\(ref.sentences.count)")
    }

    @Test("embeddings match the float64 reference (cosine >= 0.999)")
    func embeddingsMatch() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let ref = try EmbeddingFixtures.reference.get()
        let ours = e.embed(ref.sentences.map(\.text))
        var minCos = 1.0, maxAbs = 0.0
        for (s, v) in zip(ref.sentences, ours) {
            #expect(v.count == 384)
            let c = cosine(v, s.embedding)
            #expect(c >= 0.999, "sentence \(s.index): cosine \(c)")
            minCos = min(minCos, c)
            for (x, y) in zip(v, s.embedding) { maxAbs = max(maxAbs, abs(Double(x) - y)) }
            let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
        print("[minilm] min cosine vs reference: \(minCos) (1 - \(1 - minCos)); max |diff| \(maxAbs)")
    }

    @Test("batched embedding equals one sentence at a time, bit for bit")
    func batchedEqualsUnbatched() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let ref = try EmbeddingFixtures.reference.get()
        let texts = ref.sentences.map(\.text)
        let batched = e.embed(texts)
        var maxDiff: Float = 0
        for (i, t) in texts.enumerated() {
            let single = e.embed([t])[0]
            #expect(single.map(\.bitPattern) == batched[i].map(\.bitPattern), "sentence \(i)")
            for (x, y) in zip(single, batched[i]) { maxDiff = max(maxDiff, abs(x - y)) }
        }
        print("[minilm] max |batched - unbatched|: \(maxDiff)")
        // Token-id entry point gives the same vectors.
        #expect(e.embed(tokenIDs: texts.map(e.tokenize)) == batched)
    }

    @Test("pair cosines reproduce the reference (1e-3)")
    func pairCosines() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let ref = try EmbeddingFixtures.reference.get()
        let v = e.embed(ref.sentences.map(\.text))
        #expect(ref.pairs.count == 21)
        for p in ref.pairs {
            let c = zip(v[p.a], v[p.b]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(c - p.cosine) <= 1e-3, "\(p.kind) \(p.a)/\(p.b): \(c) vs \(p.cosine)")
            #expect(abs(c - ref.cosine_matrix[p.a][p.b]) <= 1e-3)
        }
        // Paraphrases score above unrelated pairs.
        let para = ref.pairs.filter { $0.kind == "paraphrase" }.map { $0.cosine }
        let unrelated = ref.pairs.filter { $0.kind == "unrelated" }.map { $0.cosine }
        #expect(para.min()! > unrelated.max()!)
    }

    @Test("concurrent callers get the same vectors")
    func concurrentCalls() async throws {
        let e = try EmbeddingFixtures.embedder.get()
        let texts = ["The cat sits outside.", "A man is eating food.", "北京的天气怎么样？", ""]
        let expected = e.embed(texts)
        let results = await withTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<6 { group.addTask { e.embed(texts) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for r in results { #expect(r == expected) }
    }

    @Test("latency: one short sentence and a batch of 32")
    func latency() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let ref = try EmbeddingFixtures.reference.get()
        let short = "What is the weather in Beijing?"
        _ = e.embed([short])
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for _ in 0..<20 { best = min(best, clock.measure { _ = e.embed([short]) }) }
        let batch = Array(ref.sentences.prefix(32).map(\.text))
        var bestBatch = Duration.seconds(1000)
        for _ in 0..<3 { bestBatch = min(bestBatch, clock.measure { _ = e.embed(batch) }) }
        let tokens = batch.map { e.tokenize($0).count }.reduce(0, +)
        print("[minilm] one short sentence: \(best); batch of 32 (\(tokens) tokens): \(bestBatch)")
        #expect(best < .milliseconds(100))
    }

    @Test("edge cases: empty and long inputs")
    func edgeCases() throws {
        let e = try EmbeddingFixtures.embedder.get()
        #expect(e.tokenize("") == [101, 102])
        let long = String(repeating: "word ", count: 1000)
        #expect(e.tokenize(long).count == 256)
        #expect(e.embed([]) == [])
        let v = e.embed(tokenIDs: [[], e.tokenize(long) + [2773, 2773, 102]])
        #expect(v[0] == [Float](repeating: 0, count: 384))
        #expect(v[1] == e.embed([long])[0])
        // Out-of-range ids read as [UNK] instead of trapping.
        let unk = e.embed(tokenIDs: [[101, 100, 102]])[0]
        #expect(e.embed(tokenIDs: [[101, -5, 102]])[0] == unk)
        #expect(e.embed(tokenIDs: [[101, Int32(e.vocabularySize), 102]])[0] == unk)
    }

    @Test func missingDirectoryThrows() {
        #expect(throws: EngineError.self) { _ = try SentenceEmbedder(directory: "/nonexistent/model-dir") }
        let empty = NSTemporaryDirectory() + "embed-empty-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        do {
            _ = try SentenceEmbedder(directory: empty)
            Issue.record("loaded an empty directory")
        } catch {
            #expect("\(error)".contains("config.json"), "\(error)")
        }
    }
}

@Suite("WordPiece tokenizer and embedding kernels")
struct WordPieceTests {
    static func tiny() throws -> WordPieceTokenizer {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "!", ",",
                      "cafe", "中", "a"]
        return try WordPieceTokenizer(tokens: tokens, specials: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                      maxLength: 8)
    }

    @Test func greedyLongestMatch() throws {
        let t = try Self.tiny()
        #expect(t.encode("unaffable") == [2, 5, 6, 7, 3])
        #expect(t.encode("Hello, CAFÉ!") == [2, 8, 10, 11, 9, 3])       // lowercase + accents stripped
        #expect(t.encode("unaffablex") == [2, 1, 3])                   // no full segmentation -> [UNK]
        #expect(t.encode("a中a") == [2, 13, 12, 13, 3])                 // CJK split out
        #expect(t.encode("hello\u{0}\u{FFFD}\u{200B}!") == [2, 8, 9, 3])  // control / format chars dropped
        #expect(t.encode(String(repeating: "a", count: 101)) == [2, 1, 3])
    }

    @Test func specialTokensAndTruncation() throws {
        let t = try Self.tiny()
        #expect(t.encode("[MASK]hello[SEP]") == [2, 4, 8, 3, 3])
        #expect(t.encode("[mask]") == [2, 1, 3] || t.encode("[mask]").count > 3)  // lowercase is not special
        #expect(t.encode("a a a a a a a a a a") == [2, 13, 13, 13, 13, 13, 13, 3])
    }

    @Test("sgemmNT: AVX2 kernel equals the Swift reference", arguments: [(1, 1, 1), (3, 4, 8), (7, 9, 33), (10, 384, 384), (5, 32, 13)])
    func sgemm(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = SystemRandomNumberGenerator()
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        var fast = [Float](repeating: 0, count: m * n), slow = fast
        EmbeddingMath.sgemmNT(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &fast, ldc: n, bias: bias)
        EmbeddingMath.sgemmNT(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &slow, ldc: n, bias: bias, path: .swift)
        for i in 0..<(m * n) { #expect(abs(fast[i] - slow[i]) <= 1e-5 * Float(k).squareRoot() + 1e-6) }
        // Row-count independence: row 0 alone equals row 0 of the full product, bit for bit.
        var one = [Float](repeating: 0, count: n)
        EmbeddingMath.sgemmNT(m: 1, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &one, ldc: n, bias: bias)
        #expect(one == Array(fast[0..<n]))
    }

    @Test func geluErf() {
        let xs = stride(from: -8 as Float, through: 8, by: 0.01).map { $0 }
        var fast = xs, slow = xs
        EmbeddingMath.geluErf(&fast, fast.count)
        EmbeddingMath.geluErf(&slow, slow.count, path: .swift)
        for i in xs.indices { #expect(abs(fast[i] - slow[i]) <= 1e-6 * max(1, abs(xs[i])), "x = \(xs[i])") }
    }
}

@Suite("infer embed CLI")
struct EmbedCLITests {
    struct Output: Decodable {
        struct Item: Decodable {
            let index: Int
            let tokens: Int
            let embedding: [Double]
        }
        let model: String
        let dimensions: Int
        let data: [Item]
    }

    @Test func jsonOutputMatchesTheLibrary() throws {
        let e = try EmbeddingFixtures.embedder.get()
        let texts = ["The cat sits outside.", "A cat is sitting outdoors."]
        let run = try CLITests.run(["embed", "--model-dir", TestPaths.minilm.path, "--json"] + texts)
        #expect(run.status == 0, "\(run.stderr)")
        let out = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
        #expect(out.model == "all-MiniLM-L6-v2" && out.dimensions == 384 && out.data.count == 2)
        let expected = e.embed(texts)
        for item in out.data {
            #expect(item.tokens == e.tokenize(texts[item.index]).count)
            #expect(item.embedding.map(Float.init) == expected[item.index])
        }
    }

    @Test func missingModelDirFails() throws {
        let run = try CLITests.run(["embed", "--model-dir", "/nonexistent/minilm", "hello"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("/nonexistent/minilm"))
    }
}
