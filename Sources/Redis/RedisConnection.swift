import CHiredis
import Foundation

/// One blocking hiredis connection owned by one serial dispatch queue: every hiredis call on this
/// connection runs on `queue`, never on Swift's cooperative pool.
///
/// `@unchecked Sendable` is safe because `context` is read and written only from blocks running on the
/// serial `queue` (the `onQueue` methods); the other stored properties are immutable.
final class RedisConnection: @unchecked Sendable {
    let queue: DispatchQueue
    private let configuration: RedisConfiguration
    private var context: UnsafeMutablePointer<redisContext>?

    init(configuration: RedisConfiguration, label: String) {
        self.configuration = configuration
        self.queue = DispatchQueue(label: label)
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Runs one command, connecting first if needed. On a connection-level error the context is freed so
    /// the next call reconnects. MUST be called on `queue`.
    func executeOnQueue(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        let ctx = try connectedContext()
        do throws(RedisError) {
            return try Self.run(ctx, args)
        } catch {
            if error.code == .connection { dropOnQueue() }
            throw error
        }
    }

    /// Sends `commands` in one write and reads their replies in order (a pipeline: one round trip). On a
    /// connection-level error the context is freed. MUST be called on `queue`.
    func pipelineOnQueue(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        let ctx = try connectedContext()
        do throws(RedisError) {
            for args in commands { try Self.append(ctx, args) }
            var replies: [RedisReply] = []
            replies.reserveCapacity(commands.count)
            for _ in commands {
                guard let raw = chiredis_get_reply(ctx) else {
                    throw RedisError(.connection, String(cString: chiredis_errstr(ctx)))
                }
                replies.append(Self.convert(raw))
                freeReplyObject(raw)
            }
            return replies
        } catch {
            dropOnQueue()   // replies may be left unread: the connection's state is unknown
            throw error
        }
    }

    /// Frees the context (if any). MUST be called on `queue`.
    func dropOnQueue() {
        if let context { redisFree(context) }
        context = nil
    }

    private func connectedContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let ctx = try Self.connect(configuration)
        context = ctx
        return ctx
    }

    /// Opens a connection, sets the command timeout, authenticates and selects the database.
    static func connect(_ configuration: RedisConfiguration) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        let connectMs = max(1, Int(configuration.connectTimeout * 1000))
        guard let ctx = chiredis_connect(configuration.host, Int32(configuration.port), connectMs) else {
            throw RedisError(.connection, "cannot allocate redis context")
        }
        if ctx.pointee.err != 0 {
            let message = String(cString: chiredis_errstr(ctx))
            redisFree(ctx)
            throw RedisError(.connection, "connect to \(configuration.host):\(configuration.port) failed: \(message)")
        }
        let commandMs = max(1, Int(configuration.commandTimeout * 1000))
        _ = chiredis_set_timeout(ctx, commandMs)
        do throws(RedisError) {
            if let password = configuration.password {
                var auth = ["AUTH"]
                if let user = configuration.username { auth.append(user) }
                auth.append(password)
                if case .error(let e) = try run(ctx, auth.map { Array($0.utf8) }) {
                    throw RedisError(.authentication, "AUTH failed: \(e)")
                }
            }
            if configuration.database != 0 {
                if case .error(let e) = try run(ctx, [Array("SELECT".utf8), Array(String(configuration.database).utf8)]) {
                    throw RedisError(.authentication, "SELECT \(configuration.database) failed: \(e)")
                }
            }
        } catch {
            redisFree(ctx)
            throw error
        }
        return ctx
    }

    /// Sends one binary-safe command with `redisCommandArgv` and converts the reply.
    static func run(_ ctx: UnsafeMutablePointer<redisContext>, _ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        let raw: UnsafeMutablePointer<redisReply>? = withArgv(args) { argc, argv, lens in
            chiredis_command_argv(ctx, argc, argv, lens)
        }
        guard let raw else {
            throw RedisError(.connection, String(cString: chiredis_errstr(ctx)))
        }
        defer { freeReplyObject(raw) }
        return convert(raw)
    }

    /// Queues one command in the context's output buffer (sent by the next read).
    static func append(_ ctx: UnsafeMutablePointer<redisContext>, _ args: [[UInt8]]) throws(RedisError) {
        let status = withArgv(args) { argc, argv, lens in chiredis_append_argv(ctx, argc, argv, lens) }
        if status != REDIS_OK { throw RedisError(.connection, String(cString: chiredis_errstr(ctx))) }
    }

    /// Calls `body` with hiredis' argc / argv / argvlen for `args` (valid only during the call).
    private static func withArgv<R>(_ args: [[UInt8]],
                                    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?) -> R) -> R {
        precondition(!args.isEmpty, "a Redis command needs at least its name")
        // Copy every argument into one buffer so the pointers stay valid for the call.
        let total = args.reduce(0) { $0 + $1.count }
        var storage = [UInt8](repeating: 0, count: max(1, total))
        var lengths = [Int](repeating: 0, count: args.count)
        var offsets = [Int](repeating: 0, count: args.count)
        var at = 0
        for (i, arg) in args.enumerated() {
            offsets[i] = at
            lengths[i] = arg.count
            storage.replaceSubrange(at..<(at + arg.count), with: arg)
            at += arg.count
        }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lens in
                    body(Int32(args.count), argvBuffer.baseAddress, lens.baseAddress)
                }
            }
        }
    }

    /// Converts a hiredis reply tree into a `RedisReply` (copies every string).
    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> [UInt8] {
            guard let str = r.str, r.len > 0 else { return [] }
            return str.withMemoryRebound(to: UInt8.self, capacity: r.len) { Array(UnsafeBufferPointer(start: $0, count: r.len)) }
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .bulk(text())
        case REDIS_REPLY_STATUS: return .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .int(Int(r.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let child = r.element[i] { items.append(convert(child)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .null
        }
    }
}
