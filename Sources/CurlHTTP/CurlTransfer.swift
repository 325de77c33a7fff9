import CCurl
import Foundation
import NumericCore

/// One easy handle and the Swift side of its exchange: the head continuation and the body stream.
///
/// NOTE: `@unchecked Sendable` is safe because, once submitted, every field except `cancelledFlag` and
/// `loop` is read and written only on the loop thread (curl callbacks run there); those two are guarded
/// by `lock`. Before submission the creating task owns the object alone.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    let bodyStream: AsyncThrowingStream<[UInt8], any Error>
    let firstByteTimeout: Double?
    let idleTimeout: Double?
    var headContinuation: CheckedContinuation<Result<HTTPResponseHead, HTTPClientError>, Never>?
    /// When the loop aborts the transfer for lack of data: the first-byte deadline until body data arrives,
    /// then (with an idle timeout) the idle deadline, pushed back by every piece of the body.
    private(set) var dataDeadline: UInt64?
    /// Whether any body data arrived (which of the two deadlines `dataDeadline` is).
    private(set) var receivedData = false
    /// Most body bytes accepted (nil: no limit).
    let maxResponseBytes: Int?
    /// Whether the body passed `maxResponseBytes` (the transfer was aborted for it).
    private(set) var responseTooLarge = false
    private var bodyBytes = 0

    private let bodyContinuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var resolveList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var headers: [(String, String)] = []
    private var finished = false
    private var cleanedUp = false
    private let lock = NSLock()
    private var cancelledFlag = false
    private weak var loopRef: CurlMultiLoop?

    var loop: CurlMultiLoop? {
        get { lock.withLock { loopRef } }
        set { lock.withLock { loopRef = newValue } }
    }

    var isCancelled: Bool { lock.withLock { cancelledFlag } }

    var errorBufferText: String { String(cString: errorBuffer) }

    init(_ request: HTTPClientRequest) throws(HTTPClientError) {
        guard let handle = curl_easy_init() else {
            throw HTTPClientError(kind: .transport, message: "curl_easy_init failed")
        }
        easy = handle
        firstByteTimeout = request.firstByteTimeout
        idleTimeout = request.idleTimeout
        maxResponseBytes = request.maxResponseBytes
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        (bodyStream, bodyContinuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()

        _ = ccurl_setopt_string(easy, CURLOPT_URL, request.url)
        _ = ccurl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        if let timeout = request.timeout, timeout > 0 {
            _ = ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, CheckedConversion.milliseconds(timeout))
            _ = ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, CheckedConversion.milliseconds(min(timeout, 10)))
        } else {
            _ = ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        }
        if request.method == "POST" {
            _ = ccurl_setopt_long(easy, CURLOPT_POST, 1)
            _ = ccurl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            request.body.withUnsafeBufferPointer { buffer in
                // COPYPOSTFIELDS copies the bytes, so the Swift array need not outlive this call.
                _ = ccurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS,
                                         UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
            }
        } else if request.method != "GET" {
            _ = ccurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        // An empty "Expect:" stops curl from waiting for `100 Continue` on large bodies.
        for line in request.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
            headerList = curl_slist_append(headerList, line)
        }
        _ = ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)
        if !request.resolve.isEmpty {
            for entry in request.resolve { resolveList = curl_slist_append(resolveList, entry) }
            _ = ccurl_setopt_slist(easy, CURLOPT_RESOLVE, resolveList)
        }
        if let protocols = request.protocols {
            guard ccurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, protocols) == CURLE_OK else {
                throw HTTPClientError(kind: .invalidRequest, message: "unsupported protocol list \(protocols)")
            }
        }
        if request.isolated {
            _ = ccurl_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1)
            _ = ccurl_setopt_long(easy, CURLOPT_FORBID_REUSE, 1)
            _ = ccurl_setopt_string(easy, CURLOPT_NOPROXY, "*")
        }

        let userdata = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_setopt_write_function(easy, CURLOPT_WRITEFUNCTION) { pointer, size, count, userdata in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
            // Returning less than was delivered makes libcurl abort the transfer (CURLE_WRITE_ERROR).
            return transfer.receivedBody(UnsafeRawBufferPointer(start: pointer, count: size * count)) ? size * count : 0
        }
        _ = ccurl_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata)
        _ = ccurl_setopt_write_function(easy, CURLOPT_HEADERFUNCTION) { pointer, size, count, userdata in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
            transfer.receivedHeaderLine(UnsafeRawBufferPointer(start: pointer, count: size * count))
            return size * count
        }
        _ = ccurl_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata)

        bodyContinuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel() }
        }
    }

    /// Requests an abort (any thread). Idempotent; a finished transfer ignores it.
    func cancel() {
        let loop: CurlMultiLoop? = lock.withLock {
            cancelledFlag = true
            return loopRef
        }
        loop?.cancel(self)
    }

    /// Called by the loop when the handle is added.
    func start() {
        if let seconds = firstByteTimeout, seconds > 0 {
            dataDeadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        }
    }

    private func receivedHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.isEmpty {
            var status = 0
            _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            if status >= 200 { deliverHead(status: status) } else { headers.removeAll() }
        } else if line.hasPrefix("HTTP/") {
            headers.removeAll()
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((name, value))
        }
    }

    /// Takes a piece of the body; false when it takes the body past `maxResponseBytes` (abort).
    private func receivedBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bodyBytes = bodyBytes.addingReportingOverflow(bytes.count).overflow ? Int.max : bodyBytes + bytes.count
        if let limit = maxResponseBytes, bodyBytes > limit {
            responseTooLarge = true
            return false
        }
        receivedData = true
        if let seconds = idleTimeout, seconds > 0 {
            dataDeadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        } else {
            dataDeadline = nil
        }
        if headContinuation != nil {
            var status = 0
            _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            deliverHead(status: status)
        }
        if !bytes.isEmpty { bodyContinuation.yield(Array(bytes)) }
        return true
    }

    private func deliverHead(status: Int) {
        guard let continuation = headContinuation else { return }
        headContinuation = nil
        var connects = 0
        _ = ccurl_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        continuation.resume(returning: .success(HTTPResponseHead(status: status, headers: headers,
                                                                 newConnections: connects)))
    }

    /// Completes the exchange (loop thread): a head still pending gets the error; else the body does.
    func finish(error: HTTPClientError?) {
        guard !finished else { return }
        finished = true
        dataDeadline = nil
        if let error {
            if let continuation = headContinuation {
                headContinuation = nil
                continuation.resume(returning: .failure(error))
            }
            bodyContinuation.finish(throwing: error)
        } else {
            if headContinuation != nil {
                var status = 0
                _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                deliverHead(status: status)
            }
            bodyContinuation.finish()
        }
    }

    /// Frees the easy handle (loop thread, after removal from the multi handle).
    func cleanup() {
        guard !cleanedUp else { return }
        cleanedUp = true
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        curl_slist_free_all(resolveList)
        headerList = nil
        resolveList = nil
        errorBuffer.deallocate()
    }

    deinit {
        if !cleanedUp {
            curl_easy_cleanup(easy)
            curl_slist_free_all(headerList)
            curl_slist_free_all(resolveList)
            errorBuffer.deallocate()
        }
    }
}
