import Gateway
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import NumericCore
import OpenAIRequest
import Synchronization

/// Per-connection limits of the HTTP server, below the router (so they hold before any route runs):
///
/// - **Connection cap** (`--max-connections`): a connection opened while the server already holds that many
///   gets a 503 `too_many_connections` (with `Retry-After`) to its first request and is closed; it never
///   reaches a route.
/// - **Read timeout** (`--read-timeout`): from the first byte of a request to the end of its body. A client
///   that trickles its headers or body is answered 408 (when nothing was sent on its request yet) and closed.
///   Reads do not take a concurrency permit (`RequestBodyMiddleware` reads the body before the permit), so a
///   slow sender costs a socket, never a slot.
/// - **Idle timeout** (`--idle-timeout`): a connection with no request in flight and no byte arriving is
///   closed after that long (a fresh connection that sends nothing included).
/// - **`Connection: close` on a response** (e.g. a 413) closes the connection after that response.
///
/// NOTE: closing is "lingering", as nginx does: after the last response the write side is shut (FIN) and
/// whatever the client still sends is discarded for up to `lingerSeconds` (or until it closes), then the
/// socket is closed. Closing at once with unread bytes in the receive buffer makes the kernel send a reset,
/// which can destroy the response (the 413 or 408) before the client reads it.
///
/// NOTE: the guard sits between the HTTP codec and Hummingbird (it sees request and response parts); its
/// companion `ByteWatch` at the head of the pipeline tells it when raw bytes arrive, which is how a request
/// whose headers are still incomplete is told from an idle connection. Both run on the channel's event loop.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The settings shared by every connection of one server.
    struct Settings: Sendable {
        /// Seconds from a request's first byte to the end of its body.
        var readTimeout: Double? = 30
        /// Seconds a connection may stay without a request in flight.
        var idleTimeout: Double? = 60
        /// Most open connections.
        var maxConnections = 4096
        /// Seconds a closing connection keeps discarding input after its last response.
        var lingerSeconds = 2.0
    }

    /// Open connections of one server.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        /// Connections open now.
        var value: Int { count.load(ordering: .relaxed) }
        func open() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
        func close() { count.wrappingSubtract(1, ordering: .relaxed) }
    }

    private enum Timer { case none, idle, read, linger }

    private let settings: Settings
    private let counter: Counter
    private let onTimeout: @Sendable () -> Void
    private var counted = false
    private var rejecting = false           // over the connection cap: answer 503 to the first request
    private var readingRequest = false      // a request's bytes have started to arrive and its end has not
    private var inFlight = 0                // request heads read minus response ends written
    private var headWritten = false         // a response head went out for the current response
    private var closeAfterResponse = false
    private var lingering = false           // closing: output shut, input discarded
    private var timer: Timer = .none
    private var scheduled: Scheduled<Void>?
    /// This handler's own context (ByteWatch calls in from the raw-byte end of the pipeline).
    private var context: ChannelHandlerContext?

    /// - Parameter onTimeout: called when a read or idle timeout closes a connection (for metrics).
    init(settings: Settings, counter: Counter, onTimeout: @escaping @Sendable () -> Void = {}) {
        self.settings = settings
        self.counter = counter
        self.onTimeout = onTimeout
    }

    // MARK: Connection lifetime

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        try? context.pipeline.syncOperations.addHandler(ByteWatch(owner: self), position: .first)
        if context.channel.isActive { opened(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client finished sending while we linger: nothing left to wait for.
        if lingering, let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func opened(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        rejecting = counter.open() > settings.maxConnections
        arm(.idle, context)
    }

    private func closed() {
        scheduled?.cancel()
        scheduled = nil
        if counted { counter.close() }
        counted = false
    }

    // MARK: Requests in, responses out

    /// Raw bytes arrived (from `ByteWatch`): a request is being read from now on.
    fileprivate func bytesArrived() {
        guard !readingRequest, !lingering, let context else { return }
        readingRequest = true
        arm(.read, context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering { return }   // discarded
        let part = unwrapInboundIn(data)
        if rejecting {
            if case .head = part { reject(context) }
            return
        }
        switch part {
        case .head:
            inFlight += 1
            readingRequest = true
            if timer != .read { arm(.read, context) }
        case .body:
            break
        case .end:
            readingRequest = false
            arm(.none, context)   // the answer may take long: the request deadline and write timeout cover it
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            headWritten = true
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            inFlight = max(0, inFlight - 1)
            headWritten = false
            if closeAfterResponse {
                lingeringClose(context, last: data, promise: promise)
                return
            }
            context.write(data, promise: promise)
            if inFlight == 0 && !readingRequest { arm(.idle, context) }
        }
    }

    // MARK: Answers of the guard itself

    /// The 503 of a connection over the cap, then close.
    private func reject(_ context: ChannelHandlerContext) {
        rejecting = false   // answer once; lingering drops the rest
        respondAndClose(context, .tooManyConnections(limit: settings.maxConnections))
    }

    /// `error` in OpenAI's envelope with `Connection: close`, then a lingering close.
    private func respondAndClose(_ context: ChannelHandlerContext, _ error: OpenAIError) {
        let body = error.body.serialized()
        var fields = error.headers
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.utf8.count)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: body))), promise: nil)
        lingeringClose(context, last: wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Writes `last`, then shuts the output, discards input for `lingerSeconds` and closes.
    private func lingeringClose(_ context: ChannelHandlerContext, last: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !lingering else {
            context.writeAndFlush(last, promise: promise)
            return
        }
        lingering = true
        readingRequest = false
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { result in
            guard case .success = result else { return channel.close(promise: nil) }
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
        written.futureResult.cascade(to: promise)
        context.writeAndFlush(last, promise: written)
        arm(.linger, context)
    }

    // MARK: Timers

    private func arm(_ kind: Timer, _ context: ChannelHandlerContext) {
        if lingering && kind != .linger { return }
        scheduled?.cancel()
        scheduled = nil
        timer = kind
        let seconds: Double?
        switch kind {
        case .none: seconds = nil
        case .idle: seconds = settings.idleTimeout
        case .read: seconds = settings.readTimeout
        case .linger: seconds = settings.lingerSeconds
        }
        guard let seconds, seconds > 0 else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        scheduled = context.eventLoop.scheduleTask(in: .milliseconds(Int64(CheckedConversion.milliseconds(seconds)))) {
            let (handler, context) = loopBound.value
            handler.fired(kind, context)
        }
    }

    private func fired(_ kind: Timer, _ context: ChannelHandlerContext) {
        guard timer == kind, context.channel.isActive else { return }
        scheduled = nil
        switch kind {
        case .none:
            return
        case .linger:
            context.close(promise: nil)
        case .idle:
            onTimeout()
            context.close(promise: nil)
        case .read:
            onTimeout()
            if inFlight <= 1, !headWritten {
                // Nothing was sent on this request yet: tell the client why, then close.
                respondAndClose(context, .readTimeout(seconds: settings.readTimeout ?? 0))
            } else {
                context.close(promise: nil)
            }
        }
    }
}

/// Tells the connection's `ConnectionGuard` that raw bytes arrived (a request's headers may still be
/// incomplete, so the HTTP decoder has produced nothing yet). Pass-through.
private final class ByteWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let owner: ConnectionGuard

    init(owner: ConnectionGuard) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived()
        context.fireChannelRead(data)
    }
}
