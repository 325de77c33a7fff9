import Testing
import Tensor

/// The typed metadata accessors of `GGUFFile` (`string/int/float/optional*`) and their errors.
@Suite("GGUF metadata accessors")
struct GGUFMetadataTests {
    let file: GGUFFile

    init() throws {
        var w = GGUFWriter()
        try w.add(key: "s", .string("llama"))
        try w.add(key: "u8", .uint8(200))
        try w.add(key: "i32", .int32(-5))
        try w.add(key: "u64.big", .uint64(.max))
        try w.add(key: "i64", .int64(1 << 40))
        try w.add(key: "f32", .float32(1e-6))
        try w.add(key: "f64", .float64(0.5))
        try w.add(key: "b", .bool(true))
        try w.add(key: "tokens", .array(.string, [.string("a"), .string("b")]))
        try w.add(key: "scores", .array(.float32, [.float32(-1), .float32(0.5)]))
        try w.add(key: "types", .array(.int32, [.int32(1), .int32(6)]))
        try w.add(key: "uniform", .array(.uint32, [.uint32(4), .uint32(4), .uint32(4)]))
        try w.add(key: "mixed", .array(.uint32, [.uint32(4), .uint32(8)]))
        try w.add(key: "empty", .array(.uint32, []))
        try w.add(key: "nested", .array(.array, [.array(.uint8, [.uint8(1)])]))
        file = try GGUFFile(bytes: w.bytes())
    }

    @Test func presentValues() throws {
        #expect(try file.string("s") == "llama")
        #expect(try file.int("u8") == 200)
        #expect(try file.int("i32") == -5)
        #expect(try file.int("i64") == 1 << 40)
        #expect(try file.float("f32") == Float(1e-6))
        #expect(try file.float("f64") == 0.5)
        #expect(try file.float("u8") == 200, "integers widen to float")
        #expect(try file.optionalBool("b") == true)
        #expect(try file.optionalStrings("tokens") == ["a", "b"])
        #expect(try file.optionalFloats("scores") == [-1, 0.5])
        #expect(try file.optionalFloats("types") == [1, 6])
        #expect(try file.optionalInts("types") == [1, 6])
        #expect(try file.optionalInts("empty") == [])
        #expect(try file.optionalUniformInt("uniform") == 4)
        #expect(try file.optionalUniformInt("i32") == -5)
    }

    @Test("optional accessors return nil for an absent key")
    func absentOptionals() throws {
        #expect(try file.optionalString("nope") == nil)
        #expect(try file.optionalInt("nope") == nil)
        #expect(try file.optionalFloat("nope") == nil)
        #expect(try file.optionalBool("nope") == nil)
        #expect(try file.optionalStrings("nope") == nil)
        #expect(try file.optionalFloats("nope") == nil)
        #expect(try file.optionalInts("nope") == nil)
        #expect(try file.optionalUniformInt("nope") == nil)
    }

    @Test("required accessors throw missingKey naming the key", arguments: ["string", "int", "float"])
    func missingKey(accessor: String) {
        let error = #expect(throws: GGUFError.self) {
            switch accessor {
            case "string": _ = try file.string("llama.block_count")
            case "int": _ = try file.int("llama.block_count")
            default: _ = try file.float("llama.block_count")
            }
        }
        #expect(error?.code == .missingKey)
        #expect(error?.message.contains("llama.block_count") == true)
    }

    /// (accessor, key) pairs whose stored type does not fit the accessor.
    static let mismatches: [(String, String)] = [
        ("string", "u8"), ("int", "s"), ("int", "f32"), ("int", "u64.big"), ("float", "s"), ("float", "b"),
        ("bool", "u8"), ("strings", "scores"), ("strings", "s"), ("floats", "tokens"), ("floats", "u8"),
        ("ints", "scores"), ("ints", "nested"), ("uniform", "mixed"), ("uniform", "empty"), ("uniform", "s"),
        ("optionalString", "tokens"), ("optionalInt", "b"), ("optionalFloat", "tokens"),
    ]

    @Test("a wrong stored type throws typeMismatch naming the key", arguments: mismatches)
    func typeMismatch(accessor: String, key: String) {
        let error = #expect(throws: GGUFError.self) {
            switch accessor {
            case "string": _ = try file.string(key)
            case "int": _ = try file.int(key)
            case "float": _ = try file.float(key)
            case "bool": _ = try file.optionalBool(key)
            case "strings": _ = try file.optionalStrings(key)
            case "floats": _ = try file.optionalFloats(key)
            case "ints": _ = try file.optionalInts(key)
            case "uniform": _ = try file.optionalUniformInt(key)
            case "optionalString": _ = try file.optionalString(key)
            case "optionalInt": _ = try file.optionalInt(key)
            default: _ = try file.optionalFloat(key)
            }
        }
        #expect(error?.code == .typeMismatch)
        #expect(error?.message.contains(key) == true)
        #expect(error?.offset == nil)
    }

    @Test("GGUFValue conversions")
    func valueConversions() {
        #expect(GGUFValue.uint64(.max).intValue == nil)
        #expect(GGUFValue.int8(-3).intValue == -3)
        #expect(GGUFValue.bool(true).intValue == nil)
        #expect(GGUFValue.uint16(3).floatValue == 3)
        #expect(GGUFValue.string("x").floatValue == nil)
        #expect(GGUFValue.array(.uint8, [.uint8(1)]).arrayValue == [.uint8(1)])
        #expect(GGUFValue.uint8(1).arrayValue == nil)
        #expect(GGUFValue.string("x").boolValue == nil)
    }

    @Test("GGUFError description carries code, offset and message")
    func errorDescription() {
        #expect(GGUFError(.truncated, "file ends", offset: 12).description == "GGUF truncated at offset 12: file ends")
        #expect(GGUFError(.missingKey, "k is missing").description == "GGUF missingKey: k is missing")
    }
}
