import Tensor

// Reference: llama.cpp src/llama-chat.cpp (`llm_chat_apply_template`) for the five built-in formats,
// SPEC-model.md 4.4 for Gemma.

/// A chat message role the server accepts.
public enum ChatRole: String, Sendable, CaseIterable {
    case system, user, assistant
}

/// One chat message (text only).
public struct ChatMessage: Sendable, Equatable {
    public var role: ChatRole
    public var content: String

    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }
}

/// A piece of a rendered chat prompt: template text (may contain control tokens) or message content
/// (always plain text).
public enum ChatSegment: Sendable, Equatable {
    case control(String)
    case content(String)
}

/// The chat formats the engine knows, detected from a GGUF `tokenizer.chat_template` or chosen per
/// architecture.
///
/// NOTE: prompts are rendered to TOKENS segment by segment: template text is encoded with
/// `parseSpecial: true` (so `<start_of_turn>` becomes its control id) and message content with
/// `parseSpecial: false` (so a user typing `<end_of_turn>` gets plain-text tokens and cannot forge a turn).
/// For Gemma, ChatML and Llama 3 every content boundary is a special token or a newline, so this equals
/// encoding the whole formatted string; for SentencePiece vocabularies with `add_space_prefix` each content
/// segment gets its own leading-space prefix (a small difference from whole-string encoding).
public enum ChatTemplate: String, Sendable, CaseIterable {
    case gemma, chatml, llama3, llama2, mistral

    /// The family of a Jinja chat template, or nil if it is none of the known ones. Looks for each family's
    /// distinctive control strings, most specific first.
    public static func detect(_ template: String) -> ChatTemplate? {
        if template.contains("<start_of_turn>") { return .gemma }
        if template.contains("<|start_header_id|>") { return .llama3 }
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("[INST]") { return template.contains("<<SYS>>") ? .llama2 : .mistral }
        return nil
    }

    /// The template for a loaded model: the GGUF template's family when known, otherwise a default for the
    /// architecture (gemma3: Gemma; qwen2: ChatML; llama: Llama 3 or ChatML if the vocabulary has their
    /// control tokens, else Llama 2).
    public static func forModel(_ model: LanguageModel) -> ChatTemplate {
        if let text = try? model.file.optionalString("tokenizer.chat_template"), let family = detect(text) {
            return family
        }
        switch model.config.architecture {
        case .gemma3: return .gemma
        case .qwen2: return .chatml
        case .llama:
            func isToken(_ s: String) -> Bool {
                model.tokenizer.encode(s, addSpecial: false, parseSpecial: true).count == 1
            }
            if isToken("<|start_header_id|>") { return .llama3 }
            if isToken("<|im_start|>") { return .chatml }
            return .llama2
        }
    }

    /// The prompt as segments, ending with the assistant's generation prompt when `addGenerationPrompt`.
    public func segments(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> [ChatSegment] {
        switch self {
        case .gemma: return Self.gemma(messages, addGenerationPrompt)
        case .chatml: return Self.chatml(messages, addGenerationPrompt)
        case .llama3: return Self.llama3(messages, addGenerationPrompt)
        case .llama2: return Self.llama2(messages, system: true)
        case .mistral: return Self.llama2(messages, system: false)
        }
    }

    /// The prompt as token ids: BOS (when the vocabulary adds one), then each segment encoded as described
    /// in the type's note.
    public func tokens(_ messages: [ChatMessage], tokenizer: any Tokenizer, addGenerationPrompt: Bool = true) -> [Int] {
        var out: [Int] = []
        if tokenizer.addBOS, let bos = tokenizer.bosID { out.append(bos) }
        for segment in segments(messages, addGenerationPrompt: addGenerationPrompt) {
            switch segment {
            case .control(let s): out += tokenizer.encode(s, addSpecial: false, parseSpecial: true)
            case .content(let s): out += tokenizer.encode(s, addSpecial: false, parseSpecial: false)
            }
        }
        return out
    }

    /// The prompt as one string (for logs and debugging; content is not escaped).
    public func text(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        segments(messages, addGenerationPrompt: addGenerationPrompt).map {
            switch $0 { case .control(let s), .content(let s): s }
        }.joined()
    }
}

extension ChatTemplate {
    static func trimmed(_ s: String) -> String {
        var scalars = Substring(s).unicodeScalars[...]
        while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() }
        while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// `<start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n<start_of_turn>model\n...`
    static func gemma(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> [ChatSegment] {
        var out: [ChatSegment] = []
        var system = ""
        for m in messages {
            if m.role == .system {
                system += trimmed(m.content)
                continue
            }
            let role = m.role == .assistant ? "model" : "user"
            out.append(.control("<start_of_turn>\(role)\n"))
            if !system.isEmpty && m.role != .assistant {
                out.append(.content(system))
                out.append(.control("\n\n"))
                system = ""
            }
            out.append(.content(trimmed(m.content)))
            out.append(.control("<end_of_turn>\n"))
        }
        if addGenerationPrompt { out.append(.control("<start_of_turn>model\n")) }
        return out
    }

    /// `<|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n`
    static func chatml(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> [ChatSegment] {
        var out: [ChatSegment] = []
        for m in messages {
            out.append(.control("<|im_start|>\(m.role.rawValue)\n"))
            out.append(.content(m.content))
            out.append(.control("<|im_end|>\n"))
        }
        if addGenerationPrompt { out.append(.control("<|im_start|>assistant\n")) }
        return out
    }

    /// `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|> ...`
    static func llama3(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> [ChatSegment] {
        var out: [ChatSegment] = []
        for m in messages {
            out.append(.control("<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n"))
            out.append(.content(trimmed(m.content)))
            out.append(.control("<|eot_id|>"))
        }
        if addGenerationPrompt { out.append(.control("<|start_header_id|>assistant<|end_header_id|>\n\n")) }
        return out
    }

    /// Llama 2: `[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...`;
    /// Mistral (no system block): the system text is folded into the first user turn.
    static func llama2(_ messages: [ChatMessage], system withSysBlock: Bool) -> [ChatSegment] {
        var out: [ChatSegment] = []
        var system = ""
        var first = true
        for m in messages {
            switch m.role {
            case .system:
                system += trimmed(m.content)
            case .user:
                out.append(.control(first ? "[INST] " : "<s>[INST] "))
                first = false
                if !system.isEmpty {
                    if withSysBlock {
                        out += [.control("<<SYS>>\n"), .content(system), .control("\n<</SYS>>\n\n")]
                    } else {
                        out += [.content(system), .control("\n\n")]
                    }
                    system = ""
                }
                out.append(.content(trimmed(m.content)))
                out.append(.control(withSysBlock ? " [/INST]" : "[/INST]"))
            case .assistant:
                out += [.control(" "), .content(trimmed(m.content)), .control(withSysBlock ? " </s>" : "</s>")]
            }
        }
        return out
    }
}
