/// One reply of the Redis protocol (RESP2, as hiredis 0.14 speaks it). Strings are raw bytes: the client
/// is binary-safe in both directions.
public enum RedisReply: Sendable, Equatable {
    /// `+OK` style status line.
    case status(String)
    /// `-ERR ...` error reply.
    case error(String)
    /// `:N` integer.
    case int(Int)
    /// `$N` bulk string; `nil` is the RESP2 null bulk string.
    case bulk([UInt8]?)
    /// `*N` array (nested replies).
    case array([RedisReply])
    /// Null array / nil reply.
    case null

    /// The reply as text: bulk strings decoded as UTF-8, status lines as-is; nil otherwise.
    public var string: String? {
        switch self {
        case .bulk(let bytes?): return String(decoding: bytes, as: UTF8.self)
        case .status(let s): return s
        default: return nil
        }
    }

    /// The bytes of a bulk string (nil for a null bulk or another kind of reply).
    public var bytes: [UInt8]? {
        if case .bulk(let b) = self { return b }
        return nil
    }

    /// The integer of an `:N` reply (or of a bulk string holding a decimal integer).
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .bulk(let b?): return Int(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    /// True for the null bulk string and the null reply.
    public var isNull: Bool {
        switch self {
        case .null, .bulk(nil): return true
        default: return false
        }
    }
}
