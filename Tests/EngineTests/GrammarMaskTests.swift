import Foundation
import Testing
@testable import Engine

/// The token mask over Gemma's 262k-token vocabulary against the per-token definition, and constrained
/// decoding through the real engine.
@Suite("Grammar mask", .serialized)
struct GrammarMaskTests {
    static let json = """
    root ::= "{" ws "\\"name\\"" ws ":" ws string "," ws "\\"age\\"" ws ":" ws [0-9]{1,3} ws "}"
    string ::= "\\"" ([^"\\\\] | "\\\\" ["\\\\nt])* "\\""
    ws ::= [ \\n]{0,3}
    """

    @Test("a token is in the mask iff the matcher accepts all of its bytes, at every state of a JSON text")
    func maskEqualsPerTokenCheck() throws {
        let tokenizer = try TokenizerFixtures.tokenizer(.gemma)
        let trie = TokenTrie(tokenizer: tokenizer)
        #expect(trie.vocabularySize == tokenizer.vocabularySize)
        let grammar = try Grammar.compile(gbnf: Self.json)
        var m = try GrammarMatcher(grammar)
        let text = Array(#"{"name": "Zoë \"Q\"", "age": 42}"#.utf8)
        let eog = tokenizer.eogIDs
        // States after 0, 1, 3, 10, 14 (inside the string), 21, and the complete text.
        for cut in [0, 1, 3, 10, 14, 21, text.count] {
            var state = m
            if cut > 0 {
                let ok = state.accept(Array(text[0..<cut]))
                #expect(ok)
            }
            let mask = GrammarMask.compute(state, trie: trie, endOfGeneration: eog)
            var expected = 0
            for id in 0..<tokenizer.vocabularySize {
                let want = eog.contains(id) ? state.isAccepting : state.allows(trie.pieces[id])
                if want { expected += 1 }
                if mask.contains(id) != want {
                    Issue.record("cut \(cut): token \(id) \(tokenizer.tokenText(id).debugDescription) mask \(mask.contains(id)) != \(want)")
                    return
                }
            }
            #expect(mask.count == expected)
            #expect(expected > 0)
        }
        _ = m.accept(text)
    }

    @Test("constrained sampling under continuous batching: every sequence's text is in the grammar")
    func engineOutputsMatchGrammar() async throws {
        let model = try LanguageModel(path: try TestPaths.require(TestPaths.gemma), maxBatch: 128)
        let engine = try InferenceEngine(model: model, options: EngineOptions(kvCacheTokens: 4096))
        let grammar = try Grammar.compile(gbnf: #"root ::= "{\"answer\": " ("\"yes\"" | "\"no\"" | [0-9]{1,4}) ", \"why\": \"" [a-z ]{1,40} "\"}""#)
        let regex = try NSRegularExpression(pattern: #"^\{"answer": ("yes"|"no"|[0-9]{1,4}), "why": "[a-z ]{1,40}"\}$"#)
        let prompt = model.tokenizer.encode("<start_of_turn>user\nIs the sky blue? Answer in JSON.<end_of_turn>\n<start_of_turn>model\n",
                                            addSpecial: true, parseSpecial: true)
        try await withThrowingTaskGroup(of: (String, GenerationSummary?).self) { group in
            for i in 0..<6 {
                var request = GenerationRequest(promptTokens: prompt, maxTokens: 120,
                    sampling: i == 0 ? .greedy : SamplingParameters(temperature: 1.0, seed: UInt64(i)))
                request.grammar = try GrammarMatcher(grammar)
                let stream = engine.submit(request)
                group.addTask {
                    let out = try await InferenceEngineTests.collect(stream)
                    return (out.text, out.summary)
                }
            }
            var count = 0
            for try await (text, summary) in group {
                count += 1
                #expect(summary?.finishReason == .stop, "\(text)")
                #expect(regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil, "\(text.debugDescription)")
            }
            #expect(count == 6)
        }
        engine.shutdown()
    }
}
