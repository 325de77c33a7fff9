import Foundation
import Testing
@testable import Tensor

/// SafeTensorsFile: a valid file round-trips; every malformed header throws the specific code with a message
/// naming the file (and the tensor where one is involved).
@Suite("SafeTensors files")
struct SafeTensorsTests {
    /// A safetensors image: 8-byte LE header length, the header JSON, then `data`.
    static func image(header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = lengthOverride ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }

    /// Writes `bytes` to a fresh temporary file and opens it.
    static func open(_ bytes: [UInt8]) throws(SafeTensorsError) -> SafeTensorsFile {
        let path = NSTemporaryDirectory() + "st-\(UUID().uuidString).safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try SafeTensorsFile(path: path)
    }

    static let validHeader = #"{"__metadata__":{"format":"pt"},"#
        + #""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"#
        + #""h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},"#
        + #""b":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]}}"#

    static func validImage() -> [UInt8] {
        // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 1.5 = 0x3FC0, -0.25 = 0xBE80 (little endian).
        image(header: validHeader, data: floatBytes([1, 2, 3, 4]) + [0x00, 0x3C, 0x00, 0xC0] + [0xC0, 0x3F, 0x80, 0xBE])
    }

    @Test func readsTensorsAndConverts() throws {
        let f = try Self.open(Self.validImage())
        #expect(f.names == ["a", "b", "h"])
        #expect(try f.info("a").shape == [2, 2])
        #expect(try f.floats("a", shape: [2, 2]) == [1, 2, 3, 4])
        #expect(try f.floats("h", convert: true) == [1, -2])
        #expect(try f.floats("b", convert: true) == [1.5, -0.25])
        #expect(throws: SafeTensorsError.self) { try f.floats("h") }            // F16 without convert
        #expect(throws: SafeTensorsError.self) { try f.floats("a", shape: [4]) }
        #expect(throws: SafeTensorsError.self) { try f.info("missing") }
        // The zero-copy view exists only when the data happens to be 4-byte aligned in the mapping.
        if let view = try f.f32Buffer("a") { #expect(Array(view) == [1, 2, 3, 4]) }
        #expect(try f.f32Buffer("h") == nil)
    }

    static func expectError(_ bytes: [UInt8], _ code: SafeTensorsError.Code, mentions: String? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try open(bytes)
            Issue.record("parsed a malformed file", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(".safetensors"), "message names the file: \(error)",
                    sourceLocation: sourceLocation)
            if let mentions {
                #expect(error.message.contains(mentions), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func truncatedHeaderLength() {
        Self.expectError([], .truncated)
        Self.expectError([16, 0, 0], .truncated)
    }

    @Test func headerLongerThanFile() {
        let valid = Self.validImage()
        Self.expectError(Array(valid[0..<20]), .badHeaderLength)
        Self.expectError(Self.image(header: "{}", data: [], lengthOverride: UInt64.max), .badHeaderLength)
        Self.expectError(Self.image(header: "{}", data: [], lengthOverride: 1 << 40), .badHeaderLength)
    }

    @Test("every prefix of a valid file throws")
    func everyPrefixThrows() {
        let valid = Self.validImage()
        for n in 0..<valid.count {
            #expect(throws: SafeTensorsError.self, "prefix \(n)") { _ = try Self.open(Array(valid[0..<n])) }
        }
    }

    @Test func badJSON() {
        Self.expectError(Self.image(header: #"{"a": {"dtype": "F32", "#, data: []), .badHeader)
        Self.expectError(Self.image(header: #"[1, 2]"#, data: []), .badHeader)
        Self.expectError(Self.image(header: #"{"a": 5}"#, data: []), .badHeader, mentions: "'a'")
        Self.expectError(Self.image(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, data: []),
                         .badHeader, mentions: "'a'")
        Self.expectError(Self.image(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: [0, 0, 0, 0]),
                         .badHeader, mentions: "'a'")
    }

    @Test func unknownDType() {
        Self.expectError(Self.image(header: #"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
                         .unknownDType, mentions: "Q4")
    }

    @Test func offsetsOutOfRange() {
        let data = Self.floatBytes([1, 2])
        Self.expectError(Self.image(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: data),
                         .tensorOutOfBounds, mentions: "'w'")
        Self.expectError(Self.image(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: data),
                         .tensorOutOfBounds, mentions: "'w'")
        Self.expectError(Self.image(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                                    + #""v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: data),
                         .tensorOutOfBounds, mentions: "overlap")
    }

    @Test func sizeDoesNotMatchShape() {
        let data = Self.floatBytes([1, 2])
        Self.expectError(Self.image(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: data),
                         .badTensorShape, mentions: "'w'")
        Self.expectError(Self.image(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
                                    data: data), .badTensorShape, mentions: "'w'")
    }

    @Test func missingFile() {
        do {
            _ = try SafeTensorsFile(path: "/nonexistent/x.safetensors")
            Issue.record("opened a missing file")
        } catch {
            #expect(error.code == .ioError && error.message.contains("/nonexistent/x.safetensors"), "\(error)")
        }
    }
}
