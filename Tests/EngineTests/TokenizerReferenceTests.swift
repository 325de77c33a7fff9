import Foundation
import Testing
import Tensor
@testable import Engine

/// Golden token ids from llama.cpp (`/tokenize` and `/completion` of llama-server) for the three reference
/// models: every string must tokenize to exactly the same ids, with and without special-token parsing.
@Suite("Tokenizer reference ids")
struct TokenizerReferenceTests {
    typealias Model = TokenizerFixtures.Model

    @Test("tokenize[] cases match llama.cpp", arguments: Model.allCases)
    func tokenizeCasesMatch(_ model: Model) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(model)
        let reference = try TokenizerFixtures.reference(model)
        let expectedCount = [Model.gemma: 47, .llamaSPM: 33, .qwen2BPE: 34][model]
        #expect(reference.tokenize.count == expectedCount)
        var matched = 0
        for c in reference.tokenize {
            let special = tokenizer.encode(c.text, addSpecial: true, parseSpecial: true)
            let plain = tokenizer.encode(c.text, addSpecial: true, parseSpecial: false)
            #expect(special == c.ids_parse_special, "\(model) parse_special: \(c.text.debugDescription)")
            #expect(plain == c.ids_plain, "\(model) plain: \(c.text.debugDescription)")
            if special == c.ids_parse_special && plain == c.ids_plain { matched += 1 }
        }
        print("[\(model.rawValue)] tokenize cases matched: \(matched)/\(reference.tokenize.count) (both id lists)")
    }

    @Test("completion prompts tokenize like llama-server", arguments: Model.allCases)
    func completionPromptsMatch(_ model: Model) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(model)
        let reference = try TokenizerFixtures.reference(model)
        #expect(!reference.complete.isEmpty)
        for c in reference.complete {
            let ids = tokenizer.encode(c.prompt, addSpecial: true, parseSpecial: true)
            #expect(ids == c.prompt_ids, "\(model) prompt: \(c.prompt.prefix(60).debugDescription)")
        }
    }

    @Test("special ids and flags")
    func specialIDs() throws {
        let gemma = try TokenizerFixtures.tokenizer(.gemma)
        #expect(gemma.vocabularySize == 262_144)
        #expect(gemma.bosID == 2 && gemma.eosID == 1 && gemma.addBOS && !gemma.addEOS)
        #expect(gemma.eogIDs == [1, 106, 212])
        #expect(gemma.tokenText(26352) == "▁Hello")
        #expect(gemma.tokenText(-1) == "" && gemma.tokenText(262_144) == "")

        let llama = try TokenizerFixtures.tokenizer(.llamaSPM)
        #expect(llama.vocabularySize == 2000 && llama.bosID == 1 && llama.eosID == 2 && llama.addBOS)
        #expect(llama.eogIDs == [2])

        let qwen = try TokenizerFixtures.tokenizer(.qwen2BPE)
        #expect(qwen.vocabularySize == 2003 && qwen.bosID == 2000 && qwen.eosID == 2002)
        #expect(!qwen.addBOS && !qwen.addEOS)
        #expect(qwen.eogIDs == [2000, 2002])
    }

    @Test("Gemma: spec 4.2 worked examples and the </s> quirk")
    func gemmaWorkedExamples() throws {
        let gemma = try TokenizerFixtures.tokenizer(.gemma)
        #expect(gemma.encode("Hello world", addSpecial: true, parseSpecial: true) == [2, 9259, 1902])
        #expect(gemma.encode(" Hello  world\n\nfoo\tbar", addSpecial: true, parseSpecial: true)
            == [2, 26352, 138, 12392, 108, 26537, 255968, 2230])
        #expect(gemma.encode("2+2=4", addSpecial: true, parseSpecial: true) == [2, 236778, 236862, 236778, 236784, 236812])
        #expect(gemma.encode("🦙 café", addSpecial: true, parseSpecial: true) == [2, 478, 397, 404, 391, 33443])
        #expect(gemma.encode("</s>", addSpecial: false, parseSpecial: true) == [212])
        #expect(gemma.encode("</s>", addSpecial: false, parseSpecial: false) == [954, 236751, 236813])
        #expect(gemma.encode("", addSpecial: true, parseSpecial: true) == [2])
        #expect(gemma.encode("", addSpecial: false, parseSpecial: true) == [])
    }

    @Test("Gemma: load and 35 KB encode are fast")
    func gemmaTiming() throws {
        guard FileManager.default.fileExists(atPath: TokenizerFixtures.gemmaModelPath) else {
            Issue.record("Gemma model file is missing: run `models/install` in the repository root")
            return
        }
        let clock = ContinuousClock()
        var file: GGUFFile?
        let parse = try clock.measure { file = try GGUFFile(path: TokenizerFixtures.gemmaModelPath) }
        var tokenizer: (any Tokenizer)?
        let load = try clock.measure { tokenizer = try TokenizerLoader.load(from: try #require(file)) }
        let gemma = try #require(tokenizer)
        let text = (try? String(contentsOfFile: "/usr/share/common-licenses/GPL-3", encoding: .utf8))
            ?? String(repeating: "The quick brown fox jumps over the lazy dog.\n", count: 800)
        var ids: [Int] = []
        let encode = clock.measure { ids = gemma.encode(text, addSpecial: true, parseSpecial: true) }
        print("[gemma3-270m] GGUF parse \(parse), tokenizer load \(load), encode \(text.utf8.count) bytes → \(ids.count) tokens in \(encode)")
        #expect(load < .seconds(1))
        #expect(encode < .seconds(1))
        #expect(gemma.decode(ids, removeSpecial: true, special: false) == text)

        // Adversarial input for the special-token partition (6,400 candidates, most starting with "<").
        let hostile = String(repeating: "<", count: 20_000) + String(repeating: "<unused1 <start_of_turn", count: 2_000)
        let partition = clock.measure { _ = gemma.encode(hostile, addSpecial: true, parseSpecial: true) }
        print("[gemma3-270m] encode \(hostile.utf8.count) bytes of '<'-heavy text in \(partition)")
        #expect(partition < .seconds(1))
    }
}
