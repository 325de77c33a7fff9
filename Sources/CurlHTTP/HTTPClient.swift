import CCurl
import Foundation

/// One outgoing HTTP request of the provider client.
public struct HTTPClientRequest: Sendable {
    /// The absolute URL.
    public var url: String
    /// `POST` by default; `GET` sends no body.
    public var method: String
    /// Request headers in order (`Content-Type`, auth, extra headers).
    public var headers: [(String, String)]
    /// The request body (sent as is).
    public var body: [UInt8]
    /// Total seconds for the whole exchange (connect, head, body); nil = no limit.
    public var timeout: Double?
    /// Seconds until the first byte of the response body; nil = no limit.
    public var firstByteTimeout: Double?
    /// Seconds allowed between two pieces of the response body once it has started (a stream whose
    /// upstream stalls without closing); nil = no limit (the total `timeout` still applies).
    public var idleTimeout: Double?
    /// Most response body bytes accepted; past it the transfer is aborted with `responseTooLarge`
    /// (nil = no limit).
    public var maxResponseBytes: Int?
    /// `CURLOPT_RESOLVE` entries (`host:port:address`): connect to these addresses instead of resolving the
    /// host again (a caller that checked the resolved addresses pins them, defeating DNS rebinding).
    public var resolve: [String] = []
    /// `CURLOPT_PROTOCOLS_STR`, e.g. `http,https` (nil: libcurl's default set).
    public var protocols: String?
    /// A new connection that is closed afterwards, no proxy from the environment: nothing of this transfer
    /// is shared with another (needed with `resolve`, so a pooled connection to another address is never used).
    public var isolated = false

    /// The idle limit between streamed chunks when the deployment sets no `stream_timeout`.
    public static let defaultStreamIdleTimeout: Double = 60

    public init(url: String, method: String = "POST", headers: [(String, String)] = [], body: [UInt8] = [],
                timeout: Double? = nil, firstByteTimeout: Double? = nil, idleTimeout: Double? = nil,
                maxResponseBytes: Int? = nil) {
        self.maxResponseBytes = maxResponseBytes
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.firstByteTimeout = firstByteTimeout
        self.idleTimeout = idleTimeout
    }
}

/// Status line and headers of a response, delivered before the body.
public struct HTTPResponseHead: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// Response headers in arrival order, names lowercased.
    public var headers: [(String, String)]
    /// Number of new connections opened for this exchange (0 when a pooled connection was reused).
    public var newConnections: Int

    /// The first value of a header (case-insensitive name).
    public func value(of name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0 == lower }?.1
    }
}

/// A response whose head has arrived; the body arrives as chunks. Dropping or cancelling the body
/// stream aborts the transfer.
public struct HTTPClientResponse: Sendable {
    /// Status and headers.
    public var head: HTTPResponseHead
    /// Body bytes in the chunks libcurl delivered them.
    public var body: AsyncThrowingStream<[UInt8], any Error>

    /// Reads the whole body (at most `limit` bytes; more is an error).
    public func collect(limit: Int = 64 << 20) async throws(HTTPClientError) -> [UInt8] {
        var out: [UInt8] = []
        do {
            for try await chunk in body {
                out += chunk
                if out.count > limit {
                    throw HTTPClientError(kind: .responseTooLarge, message: "response body larger than \(limit) bytes")
                }
            }
        } catch let error as HTTPClientError {
            throw error
        } catch {
            throw HTTPClientError(kind: .transport, message: String(describing: error))
        }
        return out
    }
}

/// A transport failure of the HTTP client (HTTP error statuses are responses, not errors).
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// Bounded failure classes (usable as a metric label).
    public enum Kind: String, Sendable {
        case connectionRefused, couldNotResolve, timeout, cancelled, transport, invalidRequest, responseTooLarge
    }
    public var kind: Kind
    public var message: String
    /// The libcurl result code, when libcurl reported the failure.
    public var curlCode: Int?

    public init(kind: Kind, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// An async HTTP/1.1 client over libcurl.
///
/// NOTE: all transfers of one client run on one dedicated thread driving a curl multi handle, so no
/// blocking call ever runs on Swift's cooperative pool; the multi handle's connection cache gives
/// keep-alive reuse across requests to the same host. Body chunks are handed to an unbounded
/// `AsyncThrowingStream` (LLM responses are small; the consumer is the gateway itself).
public final class HTTPClient: Sendable {
    /// A process-wide client (one loop thread, one connection pool).
    public static let shared = HTTPClient()

    private let loop: CurlMultiLoop

    public init(maxConnections: Int = 64) {
        _ = curlGlobalInit
        loop = CurlMultiLoop(maxConnections: maxConnections)
    }

    /// Sends a request and returns once the response head has arrived.
    /// Throws on transport failures before the head (refused, DNS, timeout, cancelled).
    public func execute(_ request: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse {
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request)
        } catch {
            throw error
        }
        let result: Result<HTTPResponseHead, HTTPClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.headContinuation = continuation
                loop.submit(transfer)
            }
        } onCancel: {
            transfer.cancel()
        }
        switch result {
        case .success(let head): return HTTPClientResponse(head: head, body: transfer.bodyStream)
        case .failure(let error): throw error
        }
    }
}

private let curlGlobalInit: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()
