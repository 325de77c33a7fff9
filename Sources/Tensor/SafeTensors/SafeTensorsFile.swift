import Foundation

/// Element type of a safetensors tensor (the `dtype` strings of the format).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
        }
    }
}

/// One entry of the header: where a tensor lives in the data section.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first (row-major, as PyTorch).
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>

    /// Number of elements (1 for a scalar with shape []).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file: the validated header plus typed access to the tensors.
///
/// Layout (huggingface/safetensors, format description): an 8-byte little-endian header length N, N bytes
/// of UTF-8 JSON mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
/// relative to the byte after the header; an optional `__metadata__` string map is skipped), then the data.
/// Every tensor is checked at open time: known dtype, non-negative shape, `end - begin == count * size`,
/// the range inside the file, and no two tensors overlapping.
public final class SafeTensorsFile: Sendable {
    /// Largest accepted JSON header (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Tensors by name.
    public let tensors: [String: SafeTensorInfo]
    /// Absolute file offset of the data section (8 + header length).
    public let dataOffset: Int
    private let file: MappedFile

    /// Maps and validates `path`. Throws `SafeTensorsError` naming the file (and tensor) on any problem.
    public init(path: String) throws(SafeTensorsError) {
        self.path = path
        do {
            file = try MappedFile(path: path)
        } catch {
            throw SafeTensorsError(.ioError, error.message)
        }
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw SafeTensorsError(.truncated, "\(path): \(bytes.count) bytes, too short for the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n >= 2, n <= UInt64(Self.maxHeaderBytes), Int(n) <= bytes.count - 8 else {
            throw SafeTensorsError(.badHeaderLength,
                                   "\(path): header length \(n) does not fit in a file of \(bytes.count) bytes")
        }
        dataOffset = 8 + Int(n)
        let headerBytes = Data(bytes[8..<dataOffset])
        tensors = try Self.parseHeader(headerBytes, path: path, dataSize: bytes.count - dataOffset)
    }

    /// Names of all tensors, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The header entry of `name`; throws `.missingTensor` if absent.
    public func info(_ name: String) throws(SafeTensorsError) -> SafeTensorInfo {
        guard let t = tensors[name] else { throw SafeTensorsError(.missingTensor, "\(path): no tensor '\(name)'") }
        return t
    }

    /// Raw bytes of a tensor (valid while this object lives).
    public func rawBytes(_ name: String) throws(SafeTensorsError) -> UnsafeRawBufferPointer {
        let t = try info(name)
        return UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + t.byteRange.lowerBound)..<(dataOffset + t.byteRange.upperBound)])
    }

    /// Zero-copy view of an F32 tensor inside the mapping (valid while this object lives), or nil when the
    /// tensor is not F32 or its data is not 4-byte aligned (then use `floats(_:convert:)`).
    public func f32Buffer(_ name: String) throws(SafeTensorsError) -> UnsafeBufferPointer<Float>? {
        let t = try info(name)
        let raw = try rawBytes(name)
        guard t.dtype == .f32 else { return nil }
        guard let base = raw.baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        guard Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: t.elementCount)
    }

    /// The elements of tensor `name` as f32. F32 is copied as is; F16 and BF16 are converted only when
    /// `convert` is true (otherwise they throw `.typeMismatch`, as every other dtype does).
    public func floats(_ name: String, convert: Bool = false) throws(SafeTensorsError) -> [Float] {
        let t = try info(name)
        let raw = try rawBytes(name)
        let n = t.elementCount
        switch t.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
                count = n
            }
        case .f16 where convert:
            return (0..<n).map { Half.toFloat(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        case .bf16 where convert:
            return (0..<n).map { Half.bf16ToFloat(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        default:
            throw SafeTensorsError(.typeMismatch, "\(path): tensor '\(name)' is \(t.dtype.rawValue), expected F32"
                                   + (convert ? " / F16 / BF16" : ""))
        }
    }

    /// Like `floats`, but also checks the shape; throws `.badTensorShape` naming both shapes.
    public func floats(_ name: String, shape: [Int], convert: Bool = false) throws(SafeTensorsError) -> [Float] {
        let t = try info(name)
        guard t.shape == shape else {
            throw SafeTensorsError(.badTensorShape, "\(path): tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        return try floats(name, convert: convert)
    }

    // MARK: - Header

    private static func parseHeader(_ data: Data, path: String, dataSize: Int) throws(SafeTensorsError)
        -> [String: SafeTensorInfo] {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SafeTensorsError(.badHeader, "\(path): header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else {
            throw SafeTensorsError(.badHeader, "\(path): header is not a JSON object")
        }
        var out: [String: SafeTensorInfo] = [:]
        for (name, value) in object where name != "__metadata__" {
            out[name] = try parseEntry(name, value, path: path, dataSize: dataSize)
        }
        // No two tensors may share bytes.
        let sorted = out.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw SafeTensorsError(.tensorOutOfBounds, "\(path): tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return out
    }

    private static func parseEntry(_ name: String, _ value: Any, path: String, dataSize: Int)
        throws(SafeTensorsError) -> SafeTensorInfo {
        func bad(_ what: String) -> SafeTensorsError { SafeTensorsError(.badHeader, "\(path): tensor '\(name)': \(what)") }
        guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dt = entry["dtype"] as? String else { throw bad("missing dtype") }
        guard let dtype = SafeTensorsDType(rawValue: dt) else {
            throw SafeTensorsError(.unknownDType, "\(path): tensor '\(name)' has unknown dtype '\(dt)'")
        }
        guard let shapeAny = entry["shape"] as? [Any], let offAny = entry["data_offsets"] as? [Any] else {
            throw bad("missing shape or data_offsets")
        }
        let shape = shapeAny.compactMap(integer)
        let offsets = offAny.compactMap(integer)
        guard shape.count == shapeAny.count, offsets.count == 2, offAny.count == 2 else {
            throw bad("shape and data_offsets must be non-negative integers, data_offsets exactly two")
        }
        var count = 1
        for d in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, m <= dataSize else {
                throw SafeTensorsError(.badTensorShape, "\(path): tensor '\(name)' shape \(shape) is larger than the file")
            }
            count = m
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end, end <= dataSize else {
            throw SafeTensorsError(.tensorOutOfBounds,
                                   "\(path): tensor '\(name)' data_offsets [\(begin), \(end)] outside the data section of \(dataSize) bytes")
        }
        guard end - begin == count * dtype.size else {
            throw SafeTensorsError(.badTensorShape,
                                   "\(path): tensor '\(name)' has \(end - begin) bytes, but \(dtype.rawValue) \(shape) needs \(count * dtype.size)")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// A JSON number that is a non-negative integer (1.5, -1 and strings give nil).
    private static func integer(_ v: Any) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d >= 0, d == d.rounded(), d < 9e15 else { return nil }
        return n.intValue
    }
}
