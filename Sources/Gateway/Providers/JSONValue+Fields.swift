extension JSONValue {
    /// A copy of this object with `key` set to `value` (replaced in place, or appended); `nil` removes
    /// the key. Non-objects are returned unchanged.
    public func settingField(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var pairs) = self else { return self }
        if let index = pairs.firstIndex(where: { $0.0 == key }) {
            if let value { pairs[index].1 = value } else { pairs.remove(at: index) }
        } else if let value {
            pairs.append((key, value))
        }
        return .object(pairs)
    }

    /// The string payload, if this is a string.
    public var stringField: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer payload (integral doubles included), if this is a number.
    public var intField: Int? {
        switch self {
        case .int(let i): i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: Int(d)
        default: nil
        }
    }

    /// The elements, if this is an array.
    var arrayField: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
