import Testing
import Tensor
@testable import Engine

/// TokenizerLoader on crafted in-memory GGUF files: errors name the problem, flags follow llama.cpp.
@Suite("Tokenizer loader")
struct TokenizerLoaderTests {
    /// A tiny byte-level vocabulary: the 256 GPT-2 alphabet characters, "Ġw" and "or" merges, one CONTROL token.
    static func bpeBuilder(pre: String?, name: String? = nil) -> GGUFBytesBuilder {
        var b = GGUFBytesBuilder()
        if let name { b.string("general.name", name) }
        b.string("tokenizer.ggml.model", "gpt2")
        if let pre { b.string("tokenizer.ggml.pre", pre) }
        var tokens = ByteLevel.scalars.map { String(Character(Unicode.Scalar($0)!)) }
        tokens += ["Ġw", "or", "Ġwor", "<|endoftext|>", "<|end|>"]
        b.strings("tokenizer.ggml.tokens", tokens)
        b.int32s("tokenizer.ggml.token_type", [Int32](repeating: 1, count: tokens.count - 2) + [3, 4])
        b.strings("tokenizer.ggml.merges", ["Ġ w", "o r", "Ġw or"])
        return b
    }

    static func load(_ b: GGUFBytesBuilder) throws -> any Tokenizer {
        try TokenizerLoader.load(from: try GGUFFile(bytes: try b.bytes()))
    }

    static func code(_ b: GGUFBytesBuilder) -> TokenizerError.Code? {
        do {
            _ = try load(b)
            return nil
        } catch let e as TokenizerError {
            return e.code
        } catch {
            return nil
        }
    }

    @Test("unknown tokenizer.ggml.model is rejected with its name")
    func unknownModel() throws {
        var b = GGUFBytesBuilder()
        b.string("tokenizer.ggml.model", "t5")
        b.strings("tokenizer.ggml.tokens", ["a", "b"])
        let error = #expect(throws: TokenizerError.self) { try Self.load(b) }
        #expect(error?.code == .unknownModel)
        #expect(error?.message.contains("'t5'") == true)
        #expect(Self.code(GGUFBytesBuilder()) == .unknownModel)  // key missing
    }

    @Test("unknown pre-tokenizer is rejected; 'gpt2' is not 'gpt-2'", arguments: ["gpt2", "qwen3-made-up"])
    func unknownPre(_ pre: String) throws {
        let error = #expect(throws: TokenizerError.self) { try Self.load(Self.bpeBuilder(pre: pre)) }
        #expect(error?.code == .unknownPreTokenizer)
        #expect(error?.message.contains("'\(pre)'") == true)
    }

    @Test("known pre-tokenizers load and merge", arguments: [nil, "default", "gpt-2", "llama-bpe", "llama3", "llama-v3", "qwen2", "smollm"])
    func knownPre(_ pre: String?) throws {
        var b = Self.bpeBuilder(pre: pre)
        b.uint32("tokenizer.ggml.bos_token_id", 259)
        let t = try Self.load(b)
        let ids = t.encode(" world", addSpecial: false, parseSpecial: true)
        #expect(t.decode(ids, removeSpecial: false, special: false) == " world")
        #expect(ids.first == 258, "\(pre ?? "absent"): 'Ġwor' first")  // Ġw + or → Ġwor
        #expect(t.addBOS == (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3"))
        #expect(t.encode("<|endoftext|>", addSpecial: false, parseSpecial: true) == [259])
        #expect(t.eogIDs.contains(259))
    }

    @Test("Phi-3 names give special tokens RSTRIP; EOG texts become CONTROL")
    func phi3Strip() throws {
        let plain = try Self.load(Self.bpeBuilder(pre: "gpt-2"))
        #expect(plain.encode("a<|end|>  b", addSpecial: false, parseSpecial: true) == [97, 260, 32, 32, 98])
        // "<|end|>" is USER_DEFINED in the file but an EOG text, so it is forced to CONTROL: plain text then.
        #expect(plain.encode("<|end|>", addSpecial: false, parseSpecial: false).count == 7)
        #expect(plain.eogIDs == [11, 259, 260])  // 11: llama.cpp's BPE default eos id when the file sets none
        let phi = try Self.load(Self.bpeBuilder(pre: "gpt-2", name: "Phi-3 Mini"))
        #expect(phi.encode("a<|end|>  b", addSpecial: false, parseSpecial: true) == [97, 260, 98])
        #expect(phi.encode("a<|endoftext|>  b", addSpecial: false, parseSpecial: true) == [97, 259, 32, 32, 98])
    }

    @Test("missing merges, missing tokens, add_bos without bos, wrong array length")
    func otherErrors() throws {
        var noMerges = GGUFBytesBuilder()
        noMerges.string("tokenizer.ggml.model", "gpt2")
        noMerges.string("tokenizer.ggml.pre", "qwen2")
        noMerges.strings("tokenizer.ggml.tokens", ["a", "b"])
        #expect(Self.code(noMerges) == .missingMerges)

        var noTokens = GGUFBytesBuilder()
        noTokens.string("tokenizer.ggml.model", "llama")
        #expect(Self.code(noTokens) == .missingTokens)

        var noBOS = GGUFBytesBuilder()  // SPM defaults bos = 1, which does not exist in a 1-token vocab
        noBOS.string("tokenizer.ggml.model", "llama")
        noBOS.strings("tokenizer.ggml.tokens", ["<unk>"])
        #expect(Self.code(noBOS) == .missingSpecialToken)
        noBOS.bool("tokenizer.ggml.add_bos_token", false)
        #expect(Self.code(noBOS) == nil)

        var badScores = GGUFBytesBuilder()
        badScores.string("tokenizer.ggml.model", "llama")
        badScores.strings("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>"])
        badScores.float32s("tokenizer.ggml.scores", [0, 0])
        #expect(Self.code(badScores) == .inconsistentMetadata)

        var wrongType = GGUFBytesBuilder()
        wrongType.uint32("tokenizer.ggml.model", 1)
        #expect(Self.code(wrongType) == .invalidMetadata)
    }

    @Test("SPM: space prefix, byte fallback and unknown attributes on a crafted vocabulary")
    func craftedSPM() throws {
        var b = GGUFBytesBuilder()
        b.string("tokenizer.ggml.model", "llama")
        let hex = (0..<256).map { "<0x" + String($0, radix: 16, uppercase: true).leftPadded(2) + ">" }
        let tokens = ["<unk>", "<s>", "</s>"] + hex + ["▁", "a", "b", "▁a", "ab", "▁ab"]
        b.strings("tokenizer.ggml.tokens", tokens)
        b.int32s("tokenizer.ggml.token_type", [2, 3, 3] + [Int32](repeating: 6, count: 256) + [1, 1, 1, 1, 1, 1])
        b.float32s("tokenizer.ggml.scores", [0, 0, 0] + [Float](repeating: 0, count: 256) + [-1, -2, -3, -4, -5, -6])
        let t = try Self.load(b)
        #expect(t.encode("ab", addSpecial: true, parseSpecial: true) == [1, 264])  // "▁ab"
        #expect(t.encode("ab c", addSpecial: false, parseSpecial: true) == [264, 259, 3 + 0x63])  // "c" → <0x63>
        #expect(t.encode("<s>ab", addSpecial: false, parseSpecial: true) == [1, 264])
        #expect(t.decode([1, 264, 259, 102], removeSpecial: true, special: false) == " ab c")
        #expect(t.decode([264, 259, 102], removeSpecial: false, special: false) == "ab c")
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
