import CCurl
import Foundation

/// The thread that owns a curl multi handle and every easy handle added to it.
///
/// NOTE: `@unchecked Sendable` is safe because the multi handle and `active` are touched only by the
/// loop thread; `incoming` and `cancelled` (the only state other threads write) are guarded by `lock`,
/// and `curl_multi_wakeup` is documented as callable from any thread.
final class CurlMultiLoop: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var incoming: [CurlTransfer] = []
    private var cancelled: [CurlTransfer] = []
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    init(maxConnections: Int) {
        guard let handle = curl_multi_init() else {
            preconditionFailure("curl_multi_init failed (out of memory)")
        }
        multi = handle
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, maxConnections)
        let thread = Thread { [self] in run() }
        thread.name = "gateway-curl"
        thread.start()
    }

    /// Hands a transfer to the loop (any thread).
    func submit(_ transfer: CurlTransfer) {
        transfer.loop = self
        lock.withLock { incoming.append(transfer) }
        curl_multi_wakeup(multi)
    }

    /// Asks the loop to abort a transfer (any thread).
    func cancel(_ transfer: CurlTransfer) {
        lock.withLock { cancelled.append(transfer) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (adds, cancels) = lock.withLock {
                defer { incoming.removeAll(); cancelled.removeAll() }
                return (incoming, cancelled)
            }
            for transfer in adds {
                if transfer.isCancelled {
                    transfer.finish(error: HTTPClientError(kind: .cancelled, message: "request cancelled"))
                    transfer.cleanup()
                    continue
                }
                transfer.start()
                active[transfer.easy] = transfer
                curl_multi_add_handle(multi, transfer.easy)
            }
            for transfer in cancels where active[transfer.easy] === transfer {
                remove(transfer, error: HTTPClientError(kind: .cancelled, message: "request cancelled"))
            }
            let now = DispatchTime.now().uptimeNanoseconds
            for transfer in active.values {
                if let deadline = transfer.dataDeadline, now >= deadline {
                    let message = transfer.receivedData
                        ? "no data for \(transfer.idleTimeout ?? 0) s in the middle of the response (stream idle timeout)"
                        : "no response data within \(transfer.firstByteTimeout ?? 0) s (first-byte timeout)"
                    remove(transfer, error: HTTPClientError(kind: .timeout, message: message))
                }
            }

            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = active[easy] else { continue }
                let code = ccurl_msg_result(message)
                if code == CURLE_OK {
                    remove(transfer, error: nil)
                } else {
                    remove(transfer, error: Self.error(for: code, transfer: transfer))
                }
            }

            var waitMs: Int32 = active.isEmpty ? 1000 : 200
            let now2 = DispatchTime.now().uptimeNanoseconds
            for transfer in active.values {
                if let deadline = transfer.dataDeadline {
                    let remaining = deadline > now2 ? Int32(min((deadline - now2) / 1_000_000 + 1, 200)) : 0
                    waitMs = min(waitMs, remaining)
                }
            }
            curl_multi_poll(multi, nil, 0, waitMs, nil)
        }
    }

    private func remove(_ transfer: CurlTransfer, error: HTTPClientError?) {
        curl_multi_remove_handle(multi, transfer.easy)
        active[transfer.easy] = nil
        transfer.finish(error: error)
        transfer.cleanup()
    }

    private static func error(for code: CURLcode, transfer: CurlTransfer) -> HTTPClientError {
        if transfer.responseTooLarge {
            return HTTPClientError(kind: .responseTooLarge,
                                   message: "response body larger than \(transfer.maxResponseBytes ?? 0) bytes",
                                   curlCode: Int(code.rawValue))
        }
        let text = String(cString: curl_easy_strerror(code))
        let detail = transfer.errorBufferText.isEmpty ? text : "\(text): \(transfer.errorBufferText)"
        let kind: HTTPClientError.Kind
        switch code {
        case CURLE_COULDNT_CONNECT: kind = .connectionRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        default: kind = .transport
        }
        return HTTPClientError(kind: kind, message: detail, curlCode: Int(code.rawValue))
    }
}
