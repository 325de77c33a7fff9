import Foundation
import Gateway
import Hummingbird
import NIOCore

/// One connection's close state and at most one waiter (the request being computed on it).
///
/// NOTE: `@unchecked Sendable`: all state is guarded by `lock`. A keep-alive connection serves its
/// requests one after another, so one waiter slot is enough (and nothing piles up per request).
final class CloseWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false
    private var waiter: CheckedContinuation<Void, Never>?

    func markClosed() {
        let w: CheckedContinuation<Void, Never>? = lock.withLock {
            closed = true
            defer { waiter = nil }
            return waiter
        }
        w?.resume()
    }

    /// Returns when the input closes, or when the calling task is cancelled.
    func waitForClose() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = lock.withLock {
                    if closed || Task.isCancelled { return true }
                    waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let w: CheckedContinuation<Void, Never>? = lock.withLock {
                defer { waiter = nil }
                return waiter
            }
            w?.resume()
        }
    }
}

/// Pass-through handler that reports the end of the connection's input to its `CloseWatcher`.
final class CloseWatcherHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let watcher = CloseWatcher()

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { watcher.markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.markClosed()
        context.fireChannelInactive()
    }
}
