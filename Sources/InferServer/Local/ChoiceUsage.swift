import Engine

/// Token counts of one finished choice.
struct ChoiceUsage: Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var cachedTokens: Int
    var timeToFirstToken: Double?
}
