import Engine
import Foundation
import Hummingbird
import Logging
import Gateway

/// Sums the usage of all choices of one request: prompt tokens once per distinct prompt.
struct UsageTotals: Sendable {
    var promptTokens = 0
    var completionTokens = 0
    var cachedTokens = 0

    /// `perPrompt[p]` lists the usages of the choices generated from prompt `p`.
    init(perPrompt: [[ChoiceUsage]]) {
        for usages in perPrompt {
            promptTokens += usages.first?.promptTokens ?? 0
            cachedTokens += usages.map(\.cachedTokens).max() ?? 0
            completionTokens += usages.reduce(0) { $0 + $1.completionTokens }
        }
    }

    var json: JSONValue { json(cacheBreakpoint: nil) }

    /// The usage object; with a `cache_control` breakpoint of `cacheBreakpoint` prompt tokens, Anthropic's
    /// `cache_read_input_tokens` (served from the prefix cache) and `cache_creation_input_tokens` (the part of
    /// the breakpoint's prefix computed and pinned by this request) beside OpenAI's `cached_tokens`.
    func json(cacheBreakpoint: Int?) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("prompt_tokens", .int(promptTokens)), ("completion_tokens", .int(completionTokens)),
            ("total_tokens", .int(promptTokens + completionTokens)),
            ("prompt_tokens_details", ["cached_tokens": .int(cachedTokens)]),
        ]
        if let cacheBreakpoint {
            pairs.append(("cache_creation_input_tokens", .int(max(0, cacheBreakpoint - cachedTokens))))
            pairs.append(("cache_read_input_tokens", .int(cachedTokens)))
        }
        return .object(pairs)
    }
}
