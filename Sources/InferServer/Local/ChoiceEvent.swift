import Engine

/// What one choice produces: text pieces (with the tokens that completed them), then one `finished`
/// (`stop`: the stop string that ended it, if one did).
enum ChoiceEvent: Sendable {
    case delta(text: String, tokens: [TokenInfo])
    case finished(reason: String, stop: String?, usage: ChoiceUsage)
}
