import Foundation
import Gateway
import Hummingbird
import NIOCore

/// The request context of the server: Hummingbird's basic context plus the connection's channel, so a
/// handler can notice its client hang up before it has written anything (see `ClientDisconnect`), and the
/// caller the API-key middleware authenticated (so the key is checked once per request).
struct InferRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    var caller: Caller = .anonymous

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
