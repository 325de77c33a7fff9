import Engine
import Hummingbird
import Logging
import Gateway

/// How a route turns choice events into JSON chunks (chat and legacy completions differ).
struct ChunkFormat: Sendable {
    /// Chunks sent before any generated text (chat: the role delta of each choice; completions: echo).
    var opening: @Sendable () -> [JSONValue]
    /// The chunks for choice `index` with text, its tokens and, on the last one, the finish reason (usually
    /// one; none while tool-call text is held back, several when held calls are sent).
    var chunk: @Sendable (_ index: Int, _ text: String, _ tokens: [TokenInfo], _ finishReason: String?) -> [JSONValue]
    /// The final `stream_options.include_usage` chunk (empty choices).
    var usage: @Sendable (UsageTotals) -> JSONValue
}
