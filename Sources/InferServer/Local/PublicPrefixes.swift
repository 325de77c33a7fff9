import Engine

/// The declared public system prompts as token prefixes (the per-range salt of SPEC-prefix-cache: a tenant's
/// prompt keeps the public part unsalted, so every tenant hits it, and salts the rest).
///
/// Each declared text is turned into the token prefix it produces in a chat prompt (the common prefix of
/// the template rendered with two different user messages after it as the system message) and in a raw
/// completion prompt (BOS + the text, minus its last token, which may merge with what follows).
struct PublicPrefixes: Sendable {
    let prefixes: [[Int]]

    init(_ texts: [String], template: ChatTemplate, tokenizer: any Tokenizer) {
        var out: [[Int]] = []
        for text in texts where !text.isEmpty {
            let a = template.tokens([ChatMessage(role: .system, content: text), ChatMessage(role: .user, content: "a")],
                                    tokenizer: tokenizer)
            let b = template.tokens([ChatMessage(role: .system, content: text), ChatMessage(role: .user, content: "b")],
                                    tokenizer: tokenizer)
            let common = zip(a, b).prefix { $0 == $1 }.count
            if common > 0 { out.append(Array(a.prefix(common))) }
            let raw = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
            if raw.count > 1 { out.append(Array(raw.dropLast())) }
        }
        prefixes = out
    }

    /// Tokens at the start of `prompt` that belong to a declared public prefix (the longest match), or 0.
    func publicTokens(of prompt: [Int]) -> Int {
        prefixes.filter { $0.count <= prompt.count && prompt.starts(with: $0) }.map(\.count).max() ?? 0
    }
}
