import Gateway
import Hummingbird
import Logging

/// A stream write that did not complete within the server's `--write-timeout`.
struct StreamWriteTimeout: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "a stream write did not complete within \(seconds) s" }
}
