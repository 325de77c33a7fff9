/// How the elements of a KV-cache row are stored: what `VectorMath.attend` reads and how many bytes a row
/// of n elements takes. The Engine's `KVCacheDType` picks one.
public enum RowFormat: Sendable, CaseIterable {
    /// IEEE single precision, 4 bytes per element.
    case f32
    /// IEEE half precision (round to nearest even when written), 2 bytes per element.
    case f16
    /// llama.cpp's Q8_0: blocks of 32 elements, an f16 scale then 32 int8 (34 bytes), see `Q8_0Row`.
    case q8_0

    /// Elements per storage unit: a row's length and any offset into it must be a multiple of this.
    public var blockElements: Int {
        switch self {
        case .f32, .f16: 1
        case .q8_0: Q8_0Row.blockElements
        }
    }

    /// Bytes of `elements` elements (a multiple of `blockElements`).
    @inline(__always)
    public func rowBytes(_ elements: Int) -> Int {
        switch self {
        case .f32: return 4 * elements
        case .f16: return 2 * elements
        case .q8_0:
            precondition(elements % Q8_0Row.blockElements == 0, "q8_0: \(elements) elements is not a multiple of 32")
            return elements / Q8_0Row.blockElements * Q8_0Row.blockBytes
        }
    }

    /// Writes `count` f32 values at `destination` in this format (`rowBytes(count)` bytes).
    @inline(__always)
    public func encode(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ count: Int) {
        switch self {
        case .f32: destination.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        case .f16: VectorMath.toHalf(source, destination.assumingMemoryBound(to: UInt16.self), count)
        case .q8_0: Q8_0Row.quantize(source, destination, count)
        }
    }

    /// Reads `count` elements at `source` as f32 into `destination`.
    @inline(__always)
    public func decode(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ count: Int) {
        switch self {
        case .f32: destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16: VectorMath.fromHalf(source.assumingMemoryBound(to: UInt16.self), destination, count)
        case .q8_0: Q8_0Row.dequantize(source, destination, count)
        }
    }
}
