import Gateway
import Hummingbird
import Logging

/// What the local engine answers for one request: a complete JSON body, or the chunk objects of a stream.
enum LocalReply: Sendable {
    case json(JSONValue)
    case chunks(AsyncThrowingStream<JSONValue, any Error>)
}
