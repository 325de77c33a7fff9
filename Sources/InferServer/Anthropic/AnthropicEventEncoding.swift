import Gateway
import OpenAIRequest

/// The internal chunk stream (OpenAI chat completion chunks) as the Messages API's stream, in Anthropic's
/// order: `message_start`, then per content block `content_block_start`, `content_block_delta`s
/// (`text_delta`, or `input_json_delta` for a `tool_use` block's arguments), `content_block_stop`; a `ping`
/// after the first block starts; at the end `message_delta` (stop_reason, stop_sequence, usage) and
/// `message_stop`. Every event is `event: <type>` + `data: {...}`. An error after the headers is an
/// `error` event and ends the stream.
///
/// NOTE: the prompt's token count is only known with the last chunk, so `message_start` carries
/// `input_tokens: 0` and `message_delta` the final usage (input, cache read and creation, output): the
/// Messages API defines `message_delta` usage as cumulative totals that replace `message_start`'s.
struct AnthropicEventEncoding: SSEEncoding {
    let model: String
    let stopSequences: [String]

    private var started = false
    private var pinged = false
    /// The open block: its index and, for a tool_use block, the OpenAI tool-call index it carries.
    private var open: (index: Int, toolCall: Int?)?
    private var nextIndex = 0
    private var finishReason: String?
    private var matched: JSONValue?
    private var usage: JSONValue?

    init(model: String, stopSequences: [String]) {
        self.model = model
        self.stopSequences = stopSequences
    }

    mutating func encode(_ chunk: JSONValue) -> String {
        var out = ""
        if !started {
            started = true
            let message: JSONValue = .object([
                ("id", .string(AnthropicInboundResponse.messageID(chunk["id"]?.stringField))), ("type", "message"),
                ("role", "assistant"), ("model", .string(model)), ("content", .array([])), ("stop_reason", .null),
                ("stop_sequence", .null), ("usage", AnthropicInboundResponse.usage(nil)),
            ])
            out += Self.event("message_start", [("message", message)])
        }
        if case .object = chunk["usage"] { usage = chunk["usage"] }
        guard let choice = chunk["choices"]?.arrayFirst else { return out }
        let delta = choice["delta"]
        if case .string(let text)? = delta?["content"], !text.isEmpty {
            if open == nil || open?.toolCall != nil {
                out += startBlock(["type": "text", "text": ""], toolCall: nil)
            }
            out += Self.event("content_block_delta", [("index", .int(open!.index)),
                                                      ("delta", ["type": "text_delta", "text": .string(text)])])
        }
        if case .array(let calls)? = delta?["tool_calls"] {
            for call in calls {
                let callIndex = call["index"]?.intValue ?? 0
                if open?.toolCall != callIndex {
                    let block: JSONValue = .object([
                        ("type", "tool_use"), ("id", call["id"] ?? .string("toolu_\(nextIndex)")),
                        ("name", call["function"]?["name"] ?? ""), ("input", .object([])),
                    ])
                    out += startBlock(block, toolCall: callIndex)
                }
                if case .string(let piece)? = call["function"]?["arguments"], !piece.isEmpty {
                    out += Self.event("content_block_delta", [("index", .int(open!.index)),
                        ("delta", ["type": "input_json_delta", "partial_json": .string(piece)])])
                }
            }
        }
        if case .string(let reason)? = choice["finish_reason"] {
            finishReason = reason
            matched = choice["stop_reason"]
        }
        return out
    }

    mutating func encode(error: OpenAIError) -> String {
        Self.event("error", [("error", AnthropicErrorEnvelope.error(error))])
    }

    mutating func end(failed: Bool) -> String {
        guard !failed else { return "" }
        var out = ""
        if !started { out += encode(.object([])) }
        out += closeBlock()
        if !pinged { out += Self.event("ping", []) }
        let (reason, sequence) = AnthropicInboundResponse.stop(finishReason: finishReason, matched: matched,
                                                               stopSequences: stopSequences)
        out += Self.event("message_delta", [("delta", .object([("stop_reason", reason), ("stop_sequence", sequence)])),
                                            ("usage", AnthropicInboundResponse.usage(usage))])
        out += Self.event("message_stop", [])
        return out
    }

    private mutating func startBlock(_ block: JSONValue, toolCall: Int?) -> String {
        var out = closeBlock()
        open = (nextIndex, toolCall)
        out += Self.event("content_block_start", [("index", .int(nextIndex)), ("content_block", block)])
        nextIndex += 1
        if !pinged {
            pinged = true
            out += Self.event("ping", [])
        }
        return out
    }

    private mutating func closeBlock() -> String {
        guard let block = open else { return "" }
        open = nil
        return Self.event("content_block_stop", [("index", .int(block.index))])
    }

    static func event(_ type: String, _ fields: [(String, JSONValue)]) -> String {
        "event: \(type)\ndata: \(JSONValue.object([("type", .string(type))] + fields).serialized())\n\n"
    }
}

extension JSONValue {
    /// The integer payload, if this is an integer.
    var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }
}
