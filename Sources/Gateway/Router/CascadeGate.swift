import Foundation

/// When a cascade tier's answer is good enough to return (`router_settings.cascades[].accept`). Pure: an answer
/// and the request in, the reason to escalate (or nil) out.
public struct CascadeGate: Sendable, Equatable {
    /// Mean token log-probability the answer must reach (needs the tier to return logprobs; the cascade asks
    /// for them). nil: not checked.
    public var minMeanLogprob: Double?
    /// Escalate answers cut off by `max_tokens` (`finish_reason: length`).
    public var rejectTruncated = false
    /// When the request asked for JSON (`response_format` json_object / json_schema), escalate answers that do
    /// not parse.
    public var requireValidJSON = false
    /// Escalate answers that look like refusals ("I can't", "I'm sorry, but", "As an AI").
    public var rejectRefusals = false

    public init(minMeanLogprob: Double? = nil, rejectTruncated: Bool = false, requireValidJSON: Bool = false,
                rejectRefusals: Bool = false) {
        self.minMeanLogprob = minMeanLogprob
        self.rejectTruncated = rejectTruncated
        self.requireValidJSON = requireValidJSON
        self.rejectRefusals = rejectRefusals
    }

    static let refusalOpenings = ["i can't", "i cannot", "i'm sorry, but", "i am sorry, but", "as an ai", "i'm unable to",
                                  "i am unable to", "i won't be able to"]

    /// nil when the answer passes every configured check, else why it does not (for `x-cascade-rejected`).
    public func rejection(of response: JSONValue, request: JSONValue) -> String? {
        guard case .array(let choices)? = response["choices"], let choice = choices.first else {
            return "no choices"
        }
        let text: String
        switch choice["message"]?["content"] ?? choice["text"] {
        case .string(let s)?: text = s
        default: text = ""
        }
        if rejectTruncated, choice["finish_reason"] == .string("length") { return "truncated" }
        if requireValidJSON, case .string(let kind)? = request["response_format"]?["type"],
           kind == "json_object" || kind == "json_schema" {
            if (try? JSONValue.parseOrdered(Array(text.utf8))) == nil { return "invalid JSON" }
        }
        if rejectRefusals {
            let opening = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if Self.refusalOpenings.contains(where: opening.hasPrefix) { return "refusal" }
        }
        if let minimum = minMeanLogprob {
            guard let mean = Self.meanLogprob(choice) else { return "no logprobs" }
            if mean < minimum { return String(format: "mean logprob %.2f < %.2f", mean, minimum) }
        }
        return nil
    }

    /// The mean of the chosen tokens' log-probabilities (chat `logprobs.content[].logprob`, or legacy
    /// `logprobs.token_logprobs`).
    static func meanLogprob(_ choice: JSONValue) -> Double? {
        var values: [Double] = []
        if case .array(let content)? = choice["logprobs"]?["content"] {
            values = content.compactMap { number($0["logprob"]) }
        } else if case .array(let lps)? = choice["logprobs"]?["token_logprobs"] {
            values = lps.compactMap { number($0) }
        }
        guard !values.isEmpty else { return nil }
        return values.reduce(0, +) / Double(values.count)
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .double(let d)?: d
        case .int(let i)?: Double(i)
        default: nil
        }
    }
}
