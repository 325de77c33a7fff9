import Foundation
import NumericCore

/// Per-request cache controls: the body's `"cache": {...}` object (what the OpenAI SDK sends through
/// `extra_body`, LiteLLM's names) merged with the HTTP `Cache-Control` request header (an extension).
///
/// - `no-cache: true`: skip the lookup, still store the fresh answer.
/// - `no-store: true`: don't store the answer.
/// - `ttl: N`: this entry's TTL in seconds.
/// - `s-maxage: N` (also `s-max-age`): accept a hit only if the entry is at most N seconds old.
/// - `namespace: "x"`: key prefix for this request.
/// - `use-cache: true|false`: opt in (needed under `mode: default_off`) or out.
///
/// NOTE: the body wins over the header for `s-maxage`; `no-cache` / `no-store` are set if either sets them.
public struct CacheControls: Sendable, Equatable {
    public var noCache = false
    public var noStore = false
    public var ttl: Double?
    public var sMaxAge: Double?
    public var namespace: String?
    public var useCache: Bool?

    public init() {}

    /// Parses the controls; throws naming the field on a wrong type or value.
    public static func parse(body: JSONValue, header: String?) throws(CacheControlError) -> CacheControls {
        var controls = CacheControls()
        if let header { try controls.applyHeader(header) }
        guard let cache = body["cache"], cache != .null else { return controls }
        guard case .object(let pairs) = cache else {
            throw CacheControlError(field: "cache", message: "must be an object, got \(cache.typeName)")
        }
        for (name, value) in pairs {
            let field = "cache.\(name)"
            switch name {
            case "no-cache": if try bool(value, field) { controls.noCache = true }
            case "no-store": if try bool(value, field) { controls.noStore = true }
            case "use-cache": controls.useCache = try bool(value, field)
            case "ttl":
                let ttl = try number(value, field)
                guard ttl > 0, ttl <= CheckedConversion.maxSeconds else {
                    throw CacheControlError(field: field, message: "must be a positive number of seconds, at most "
                        + "\(Int(CheckedConversion.maxSeconds)) (one year), got \(value.shownNumber)")
                }
                controls.ttl = ttl
            case "s-maxage", "s-max-age":
                let age = try number(value, field)
                guard age >= 0, age <= CheckedConversion.maxSeconds else {
                    throw CacheControlError(field: field, message: "must be a non-negative number of seconds, at most "
                        + "\(Int(CheckedConversion.maxSeconds)) (one year), got \(value.shownNumber)")
                }
                controls.sMaxAge = age
            case "namespace":
                guard case .string(let ns) = value, !ns.isEmpty else {
                    throw CacheControlError(field: field, message: "must be a non-empty string")
                }
                controls.namespace = ns
            default:
                continue   // unknown controls are ignored, as LiteLLM does
            }
        }
        return controls
    }

    private mutating func applyHeader(_ header: String) throws(CacheControlError) {
        for rawDirective in header.split(separator: ",") {
            let directive = rawDirective.trimmingCharacters(in: .whitespaces).lowercased()
            if directive == "no-cache" {
                noCache = true
            } else if directive == "no-store" {
                noStore = true
            } else if directive.hasPrefix("s-maxage=") {
                let value = directive.dropFirst("s-maxage=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard let age = Double(value), age >= 0, age <= CheckedConversion.maxSeconds else {
                    throw CacheControlError(field: "Cache-Control",
                        message: "s-maxage must be a non-negative number of seconds, at most one year, got '\(value)'")
                }
                sMaxAge = age
            }
            // max-age and everything else are ignored (they describe client caches, not ours).
        }
    }

    private static func bool(_ value: JSONValue, _ field: String) throws(CacheControlError) -> Bool {
        guard case .bool(let b) = value else {
            throw CacheControlError(field: field, message: "must be a boolean, got \(value.typeName)")
        }
        return b
    }

    private static func number(_ value: JSONValue, _ field: String) throws(CacheControlError) -> Double {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d) where d.isFinite: return d
        default: throw CacheControlError(field: field, message: "must be a finite number, got \(value.typeName)")
        }
    }
}

private extension JSONValue {
    /// A number as the client sent it, for error messages.
    var shownNumber: String {
        switch self {
        case .int(let i): String(i)
        case .double(let d): String(d)
        default: typeName
        }
    }
}
