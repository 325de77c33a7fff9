import Engine
import Foundation

/// Synthetic workloads for `infer bench-prefix`, built from real English text (Debian's license texts)
/// tokenized with the model's tokenizer.
struct PrefixWorkloads {
    /// One request: a prompt made of segments, some of which may depend on an earlier answer (chat).
    struct Turn {
        var conversation: Int
        var userTokens: [Int]
    }

    let tokenizer: any Tokenizer
    let corpus: [Int]

    init(tokenizer: any Tokenizer) throws {
        self.tokenizer = tokenizer
        let dir = "/usr/share/common-licenses"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()) ?? []
        var text = ""
        for name in names {
            // Skip aliases (GPL -> GPL-3, ...): duplicated text would create accidental shared prefixes.
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(name)")) != nil { continue }
            if let data = FileManager.default.contents(atPath: "\(dir)/\(name)") {
                text += String(decoding: data, as: UTF8.self) + "\n\n"
            }
        }
        guard !text.isEmpty else { throw BenchError("no text found under \(dir) to build workloads from") }
        corpus = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
    }

    /// `count` tokens of text starting at `offset` (wrapping around the corpus).
    func passage(_ offset: Int, _ count: Int) -> [Int] {
        (0..<count).map { corpus[(offset + $0) % corpus.count] }
    }

    func text(_ s: String) -> [Int] { tokenizer.encode(s, addSpecial: false, parseSpecial: false) }

    var bos: [Int] { tokenizer.addBOS ? [tokenizer.bosID].compactMap { $0 } : [] }

    /// rag: `documents` documents of ~1,500 tokens; `questions` questions interleaved across documents
    /// (6 per document by default: the first question on a document computes it, the others hit).
    func rag(documents: Int = 8, questions: Int = 48) -> [[Int]] {
        let docs = (0..<documents).map { passage($0 * 1500, 1500) }
        return (0..<questions).map { q in
            let d = q % documents
            return bos + text("Document:\n") + docs[d] + text("\n\nQuestion \(q + 1): what does the document above say about item \(q % 7 + 1)? Answer:")
        }
    }

    /// system: one 1,000-token system prompt shared by `messages` short user messages.
    func system(messages: Int = 24) -> [[Int]] {
        let sys = bos + text("System: ") + passage(40_000 % corpus.count, 1000)
        return (0..<messages).map { m in
            sys + text("\nUser \(m + 1): please summarise clause \(m % 17 + 1) in one sentence.\nAssistant:")
        }
    }

    /// chat: `conversations` conversations of `turns` turns; user messages of ~60 tokens.
    func chatOpening(_ c: Int) -> [Int] {
        bos + text("A conversation about software licenses.\nUser: ") + passage(20_000 + c * 997, 60)
    }

    func chatFollowUp(_ c: Int, turn: Int) -> [Int] {
        text("\nUser: ") + passage(30_000 + c * 613 + turn * 61, 60) + text("\nAssistant:")
    }
}
