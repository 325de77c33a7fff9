import Engine

/// What one choice produces: text pieces (with the tokens that completed them), then one `finished`.
enum ChoiceEvent: Sendable {
    case delta(text: String, tokens: [TokenInfo])
    case finished(reason: String, usage: ChoiceUsage)
}
