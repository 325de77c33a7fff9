import CHiredis
import Foundation
import Logging

/// An event from a `RedisSubscriber`.
public enum RedisSubscriberEvent: Sendable, Equatable {
    /// The subscription is (re-)established. Messages published while disconnected were lost, so a
    /// consumer that mirrors Redis state should resynchronise (e.g. rescan) on this event.
    case subscribed
    /// One published message.
    case message(channel: String, payload: [UInt8])
}

/// `SUBSCRIBE` on its own connection and its own thread, delivering messages to an `AsyncStream`.
///
/// Contract: the thread reconnects with exponential backoff (from `coolOff` up to `maxCoolOff`) and
/// yields `.subscribed` after every (re)subscription. `stop()` unblocks the thread (by shutting the
/// socket down) and finishes the stream; it is idempotent.
public final class RedisSubscriber: Sendable {
    /// Events in arrival order (bounded: the oldest are dropped if the consumer falls 1024 behind).
    public let events: AsyncStream<RedisSubscriberEvent>
    private let continuation: AsyncStream<RedisSubscriberEvent>.Continuation
    private let configuration: RedisConfiguration
    private let channels: [String]
    private let logger: Logger
    private let state = SyncBox(State())
    private let wakeup = DispatchSemaphore(value: 0)

    /// Shared between the subscriber thread and `stop()`.
    ///
    /// `@unchecked Sendable` because the raw context pointer is only dereferenced under the `SyncBox` lock
    /// by `stop()` (shutdown), and created / freed by the subscriber thread under the same lock.
    private struct State: @unchecked Sendable {
        var stopped = false
        var context: UnsafeMutablePointer<redisContext>?
    }

    public init(configuration: RedisConfiguration, channels: [String], logger: Logger = Logger(label: "gateway.redis.subscriber")) {
        precondition(!channels.isEmpty, "subscribe to at least one channel")
        self.configuration = configuration
        self.channels = channels
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: RedisSubscriberEvent.self, bufferingPolicy: .bufferingNewest(1024))
        _ = RedisClient.ignoreSIGPIPE
        let thread = Thread { [self] in run() }
        thread.name = "redis.subscriber"
        thread.start()
    }

    /// Stops the subscriber thread and finishes `events`.
    public func stop() {
        state.withLock { s in
            s.stopped = true
            if let ctx = s.context { chiredis_shutdown(ctx) }
        }
        wakeup.signal()
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func run() {
        var backoff = configuration.coolOff
        // On a cluster any node delivers every published message (the cluster bus broadcasts them): each
        // reconnection tries the next startup node, so a dead node does not silence the subscriber.
        let nodes = configuration.clusterNodes
        var attempt = 0
        while !isStopped {
            var target = configuration
            if !nodes.isEmpty {
                target.host = nodes[attempt % nodes.count].host
                target.port = nodes[attempt % nodes.count].port
            }
            attempt += 1
            do throws(RedisError) {
                let ctx = try RedisConnection.connect(target)
                let registered: Bool = state.withLock { s in
                    if s.stopped { return false }
                    s.context = ctx
                    return true
                }
                guard registered else { redisFree(ctx); break }
                defer {
                    state.withLock { $0.context = nil }
                    redisFree(ctx)
                }
                _ = chiredis_set_timeout(ctx, 0)   // a subscriber waits indefinitely for messages
                try subscribe(ctx)
                backoff = configuration.coolOff
                continuation.yield(.subscribed)
                while let raw = chiredis_get_reply(ctx) {
                    let reply = RedisConnection.convert(raw)
                    freeReplyObject(raw)
                    if case .array(let parts) = reply, parts.count == 3, parts[0].string == "message",
                       let channel = parts[1].string {
                        continuation.yield(.message(channel: channel, payload: parts[2].bytes ?? []))
                    }
                }
                if !isStopped { logger.debug("redis subscriber connection lost") }
            } catch {
                logger.debug("redis subscriber cannot connect", metadata: ["error": "\(error)"])
            }
            if isStopped { break }
            _ = wakeup.wait(timeout: .now() + backoff)
            backoff = min(backoff * 2, configuration.maxCoolOff)
        }
        continuation.finish()
    }

    private func subscribe(_ ctx: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        // redisCommand returns the first confirmation; the others follow as separate replies.
        let first = try RedisConnection.run(ctx, (["SUBSCRIBE"] + channels).map { Array($0.utf8) })
        if case .error(let e) = first { throw RedisError(.server, "SUBSCRIBE failed: \(e)") }
        for _ in 1..<channels.count {
            guard let raw = chiredis_get_reply(ctx) else {
                throw RedisError(.connection, String(cString: chiredis_errstr(ctx)))
            }
            freeReplyObject(raw)
        }
    }
}
