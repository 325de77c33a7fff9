import Foundation
import Gateway
import Testing

@Suite struct JSONValueTests {
    @Test func roundTripKeepsKeyOrderAndTypes() throws {
        let text = #"{"b":1,"a":[true,null,2.5,"x\n\"y\""],"c":{"z":-3}}"#
        let value = try JSONValue.parse(Data(text.utf8))
        #expect(value.serialized() == text)
        #expect(value["c"]?["z"] == .int(-3))
    }

    @Test func malformedInputThrows() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Data("{\"a\":".utf8)) }
    }
}
