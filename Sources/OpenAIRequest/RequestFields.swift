import Gateway

/// Typed access to the fields of a JSON request body. Every getter returns nil for a missing or `null`
/// field and throws a 400 naming the field when the value has the wrong type or is out of range; unknown
/// fields are never looked at (so they are ignored).
public struct RequestFields: Sendable {
    public let object: JSONValue

    /// Fails with a 400 unless the body is a JSON object.
    public init(_ body: JSONValue) throws {
        guard case .object = body else {
            throw OpenAIError.invalidRequest("The request body must be a JSON object, got \(body.typeName).")
        }
        object = body
    }

    /// The raw value (nil when missing or null).
    public func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    public func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw typeError(key, "a string", v) }
        return s
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw typeError(key, "a boolean", v) }
        return b
    }

    public func int(_ key: String, in range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let v = value(key) else { return nil }
        let i: Int
        switch v {
        case .int(let x): i = x
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: i = Int(d)
        default: throw typeError(key, "an integer", v)
        }
        if let range, !range.contains(i) {
            throw OpenAIError.badParameter(key, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(i).")
        }
        return i
    }

    public func double(_ key: String, in range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double
        switch v {
        case .int(let x): d = Double(x)
        case .double(let x): d = x
        default: throw typeError(key, "a number", v)
        }
        if let range, !range.contains(d) {
            throw OpenAIError.badParameter(key, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(d).")
        }
        return d
    }

    /// `stream` and `stream_options.include_usage` (the one place they are parsed).
    public func streamOptions() throws -> (stream: Bool, includeUsage: Bool) {
        let stream = try bool("stream") ?? false
        guard let options = value("stream_options") else { return (stream, false) }
        guard case .object = options else { throw typeError("stream_options", "an object", options) }
        return (stream, try RequestFields(options).bool("include_usage") ?? false)
    }

    /// An array of strings (nil when missing or null).
    public func stringList(_ key: String, expected: String = "an array of strings") throws -> [String]? {
        guard let raw = value(key) else { return nil }
        guard case .array(let items) = raw else { throw typeError(key, expected, raw) }
        return try items.map { item in
            guard case .string(let s) = item else { throw typeError(key, expected, raw) }
            return s
        }
    }

    /// `stop`: a string or an array of up to 4 strings.
    public func stopStrings(_ key: String = "stop") throws -> [String] {
        guard let v = value(key) else { return [] }
        switch v {
        case .string(let s): return s.isEmpty ? [] : [s]
        case .array(let items):
            guard items.count <= 4 else { throw OpenAIError.badParameter(key, "'\(key)' accepts at most 4 sequences.") }
            return try items.map { item in
                guard case .string(let s) = item else { throw typeError(key, "a string or an array of strings", v) }
                return s
            }.filter { !$0.isEmpty }
        default: throw typeError(key, "a string or an array of strings", v)
        }
    }

    /// `logit_bias`: an object mapping token ids (as strings) to a bias in [-100, 100].
    public func logitBias(_ key: String = "logit_bias", vocabularySize: Int) throws -> [Int: Float] {
        guard let v = value(key) else { return [:] }
        guard case .object(let pairs) = v else { throw typeError(key, "an object of token id to bias", v) }
        var out: [Int: Float] = [:]
        for (k, bias) in pairs {
            guard let id = Int(k), id >= 0, id < vocabularySize else {
                throw OpenAIError.badParameter(key, "'\(key)' has an invalid token id '\(k)'.")
            }
            let b: Double
            switch bias {
            case .int(let x): b = Double(x)
            case .double(let x): b = x
            default: throw typeError(key, "an object of token id to number", v)
            }
            guard (-100...100).contains(b) else {
                throw OpenAIError.badParameter(key, "'\(key)' values must be between -100 and 100.")
            }
            out[id] = Float(b)
        }
        return out
    }

    public func typeError(_ key: String, _ expected: String, _ got: JSONValue) -> OpenAIError {
        OpenAIError.badParameter(key, "'\(key)' must be \(expected), got \(got.typeName).")
    }
}
