import Engine
import Hummingbird
import Logging
import Gateway

/// One choice run to completion (non-streaming responses).
struct CollectedChoice: Sendable {
    var text = ""
    var tokens: [TokenInfo] = []
    var finishReason = "stop"
    /// The stop string that ended the choice (vLLM's `stop_reason`).
    var stopString: String?
    var usage = ChoiceUsage(promptTokens: 0, completionTokens: 0, cachedTokens: 0, timeToFirstToken: nil)
}
