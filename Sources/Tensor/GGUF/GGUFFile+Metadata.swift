/// Typed metadata accessors. The throwing forms name the key in `missingKey` / `typeMismatch` errors;
/// the optional forms return nil when the key is absent (and still throw on a wrong type).
///
/// Array accessors decode straight from the file's bytes into the result, never through `[GGUFValue]`.
extension GGUFFile {
    /// A required string value.
    public func string(_ key: String) throws(GGUFError) -> String {
        guard let s = try optionalString(key) else { throw missing(key) }
        return s
    }

    public func optionalString(_ key: String) throws(GGUFError) -> String? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .value(let v) = e, let s = v.stringValue else { throw mismatch(key, "a string", e.type) }
        return s
    }

    /// A required integer value (any GGUF integer type).
    public func int(_ key: String) throws(GGUFError) -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    public func optionalInt(_ key: String) throws(GGUFError) -> Int? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .value(let v) = e, let i = v.intValue else { throw mismatch(key, "an integer", e.type) }
        return i
    }

    /// A required float value (f32, f64 or integer).
    public func float(_ key: String) throws(GGUFError) -> Float {
        guard let f = try optionalFloat(key) else { throw missing(key) }
        return f
    }

    public func optionalFloat(_ key: String) throws(GGUFError) -> Float? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .value(let v) = e, let f = v.floatValue else { throw mismatch(key, "a number", e.type) }
        return Float(f)
    }

    public func optionalBool(_ key: String) throws(GGUFError) -> Bool? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .value(let v) = e, let b = v.boolValue else { throw mismatch(key, "a bool", e.type) }
        return b
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`).
    public func optionalStrings(_ key: String) throws(GGUFError) -> [String]? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .array(let a) = e, a.elementType == .string else {
            throw mismatch(key, "an array of strings", e.type)
        }
        var out: [String] = []
        out.reserveCapacity(a.count)
        // Token texts may contain invalid UTF-8 in broken files; decode with replacement, never crash.
        let bytes = metadata.bytes
        let ok = a.forEachString(bytes) { r in
            out.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self))
        }
        guard ok else { throw corrupt(key) }
        return out
    }

    /// An array of numbers as Float (e.g. `tokenizer.ggml.scores`).
    public func optionalFloats(_ key: String) throws(GGUFError) -> [Float]? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .array(let a) = e, let out = a.floats(metadata.bytes) else {
            throw mismatch(key, "an array of numbers", e.type)
        }
        return out
    }

    /// An array of integers (e.g. `tokenizer.ggml.token_type`).
    public func optionalInts(_ key: String) throws(GGUFError) -> [Int]? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .array(let a) = e, let out = a.ints(metadata.bytes) else {
            throw mismatch(key, "an array of integers", e.type)
        }
        return out
    }

    /// An integer that may be stored as a scalar or as a per-layer array (first element is returned
    /// for arrays whose values are all equal; otherwise `typeMismatch`).
    public func optionalUniformInt(_ key: String) throws(GGUFError) -> Int? {
        guard let e = metadata.entry(key) else { return nil }
        if case .value(let v) = e, let i = v.intValue { return i }
        if let arr = try optionalInts(key), let first = arr.first, arr.allSatisfy({ $0 == first }) { return first }
        throw mismatch(key, "an integer (per-layer values that differ are not supported)", e.type)
    }

    /// The element count of an array value, without decoding it; nil when `key` is absent.
    /// Throws `typeMismatch` when the value is not an array.
    public func arrayCount(_ key: String) throws(GGUFError) -> Int? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .array(let a) = e else { throw mismatch(key, "an array", e.type) }
        return a.count
    }

    /// Calls `body(count, element)` for an array of strings without building any `String`:
    /// `element(i)` (0 ≤ i < count) is token i's raw UTF-8 bytes, a view into the file valid only
    /// inside `body` (and possibly invalid UTF-8 in a broken file). Returns nil when `key` is absent.
    ///
    /// Throws `GGUFError(.typeMismatch)` when the value is not an array of strings, or what `body` throws.
    /// Costs one `Int` per element for the offsets table while `body` runs.
    public func withStringArrayBytes<R>(
        _ key: String, _ body: (_ count: Int, _ element: (Int) -> UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        guard let e = metadata.entry(key) else { return nil }
        guard case .array(let a) = e, a.elementType == .string else {
            throw mismatch(key, "an array of strings", e.type)
        }
        let bytes = metadata.bytes
        // [count + 1]: element i is bytes[starts[i] ..< starts[i + 1] - 8] (each is preceded by its u64 length).
        var starts: [Int] = []
        starts.reserveCapacity(a.count + 1)
        let ok = a.forEachString(bytes) { r in starts.append(r.lowerBound - 8) }
        guard ok else { throw corrupt(key) }
        starts.append(a.endOffset)
        // withExtendedLifetime: the bytes belong to `metadata`'s storage, kept alive by `self`.
        return try withExtendedLifetime(self) {
            try starts.withUnsafeBufferPointer { s in
                try body(a.count) { i in
                    precondition(i >= 0 && i < a.count, "string index \(i) out of range 0..<\(a.count)")
                    return UnsafeRawBufferPointer(rebasing: bytes[(s[i] + 8)..<s[i + 1]])
                }
            }
        }
    }

    private func missing(_ key: String) -> GGUFError {
        GGUFError(.missingKey, "required metadata key \(key) is missing")
    }

    private func mismatch(_ key: String, _ expected: String, _ found: GGUFValueType) -> GGUFError {
        GGUFError(.typeMismatch, "metadata key \(key) should be \(expected), found \(found)")
    }

    /// Unreachable for a parsed file (arrays are validated at parse time); reported rather than trapped.
    private func corrupt(_ key: String) -> GGUFError {
        GGUFError(.truncated, "metadata key \(key): array elements lie outside the file")
    }
}
