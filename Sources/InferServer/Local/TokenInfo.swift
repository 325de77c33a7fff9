import Engine

/// One sampled token as reported to the client (for logprobs).
struct TokenInfo: Sendable {
    var id: Int
    var logprob: Float?
    var top: [(id: Int, logprob: Float)]
}
