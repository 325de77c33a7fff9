/// Typed metadata accessors. The throwing forms name the key in `missingKey` / `typeMismatch` errors;
/// the optional forms return nil when the key is absent (and still throw on a wrong type).
extension GGUFFile {
    /// A required string value.
    public func string(_ key: String) throws(GGUFError) -> String {
        guard let s = try optionalString(key) else { throw missing(key) }
        return s
    }

    public func optionalString(_ key: String) throws(GGUFError) -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.stringValue else { throw mismatch(key, "a string", v) }
        return s
    }

    /// A required integer value (any GGUF integer type).
    public func int(_ key: String) throws(GGUFError) -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    public func optionalInt(_ key: String) throws(GGUFError) -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.intValue else { throw mismatch(key, "an integer", v) }
        return i
    }

    /// A required float value (f32, f64 or integer).
    public func float(_ key: String) throws(GGUFError) -> Float {
        guard let f = try optionalFloat(key) else { throw missing(key) }
        return f
    }

    public func optionalFloat(_ key: String) throws(GGUFError) -> Float? {
        guard let v = metadata[key] else { return nil }
        guard let f = v.floatValue else { throw mismatch(key, "a number", v) }
        return Float(f)
    }

    public func optionalBool(_ key: String) throws(GGUFError) -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.boolValue else { throw mismatch(key, "a bool", v) }
        return b
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`).
    public func optionalStrings(_ key: String) throws(GGUFError) -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(.string, let items) = v else { throw mismatch(key, "an array of strings", v) }
        return items.map { $0.stringValue ?? "" }
    }

    /// An array of numbers as Float (e.g. `tokenizer.ggml.scores`).
    public func optionalFloats(_ key: String) throws(GGUFError) -> [Float]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(_, let items) = v else { throw mismatch(key, "an array of numbers", v) }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let f = item.floatValue else { throw mismatch(key, "an array of numbers", v) }
            out.append(Float(f))
        }
        return out
    }

    /// An array of integers (e.g. `tokenizer.ggml.token_type`).
    public func optionalInts(_ key: String) throws(GGUFError) -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(_, let items) = v else { throw mismatch(key, "an array of integers", v) }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let i = item.intValue else { throw mismatch(key, "an array of integers", v) }
            out.append(i)
        }
        return out
    }

    /// An integer that may be stored as a scalar or as a per-layer array (first element is returned
    /// for arrays whose values are all equal; otherwise `typeMismatch`).
    public func optionalUniformInt(_ key: String) throws(GGUFError) -> Int? {
        guard let v = metadata[key] else { return nil }
        if let i = v.intValue { return i }
        if let arr = try optionalInts(key), let first = arr.first, arr.allSatisfy({ $0 == first }) { return first }
        throw mismatch(key, "an integer (per-layer values that differ are not supported)", v)
    }

    private func missing(_ key: String) -> GGUFError {
        GGUFError(.missingKey, "required metadata key \(key) is missing")
    }

    private func mismatch(_ key: String, _ expected: String, _ v: GGUFValue) -> GGUFError {
        GGUFError(.typeMismatch, "metadata key \(key) should be \(expected), found \(v.type)")
    }
}
