import Hummingbird
import NIOCore
import OpenAIRequest

/// Reads the body of every POST into memory before the rest of the chain sees the request, and so before
/// `ConcurrencyLimitMiddleware` takes a permit: a client that sends its body slowly (or never finishes it)
/// holds a socket until `--read-timeout` (`ConnectionGuard`), never one of the request slots.
///
/// A body over `maxBodyBytes` is a 413 with `Connection: close`. NOTE: up to `drainBytes` past the limit are
/// still read (and discarded) first, so a client that is still sending a slightly-too-large body is not
/// blocked on a full TCP window and does see the 413; past that the answer goes out at once and the
/// connection is closed (a declared `Content-Length` that large is answered before reading anything).
struct RequestBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    /// Bytes read past the limit before the 413.
    static var drainBytes: Int { 1 << 20 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post else { return try await next(request, context) }
        var request = request
        request.body = RequestBody(buffer: try await Self.read(request, limit: maxBodyBytes))
        return try await next(request, context)
    }

    /// The whole body, or a 413 (over `limit`) / 400 (broken off) error.
    private static func read(_ request: Request, limit: Int) async throws -> ByteBuffer {
        let (drainLimit, overflow) = limit.addingReportingOverflow(drainBytes)
        let stopAt = overflow ? Int.max : drainLimit
        if let length = request.headers[.contentLength].flatMap(Int.init), length > stopAt {
            throw OpenAIError.bodyTooLarge(limit: limit)
        }
        var buffer = ByteBuffer()
        var total = 0
        do {
            for try await chunk in request.body {
                total = total.addingReportingOverflow(chunk.readableBytes).overflow ? Int.max : total + chunk.readableBytes
                if total <= limit {
                    buffer.writeImmutableBuffer(chunk)
                } else if total > stopAt {
                    break
                }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // The body broke off (connection half-closed before Content-Length bytes, bad chunked framing):
            // the client's error, not a 500.
            throw OpenAIError.invalidRequest("The request body is incomplete or malformed (\(total) bytes read).",
                                             code: "invalid_body")
        }
        if total > limit { throw OpenAIError.bodyTooLarge(limit: limit) }
        return buffer
    }
}
