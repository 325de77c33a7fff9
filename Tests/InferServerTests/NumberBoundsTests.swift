import Foundation
import Testing
@testable import Engine
@testable import InferServer
import Gateway
import OpenAIRequest

/// `minimum` / `maximum` / `exclusiveMinimum` / `exclusiveMaximum` on `number` schemas: the compiled grammar
/// accepts a decimal exactly when its value is inside the bounds (checked against `Double` comparisons over a
/// grid of candidates), and non-whole bounds are refused by name.
@Suite("Number bounds")
struct NumberBoundsTests {
    static func grammar(_ schema: String) throws -> Grammar {
        let f = try RequestFields(JSONValue.parse(Data(#"{"json_schema": \#(schema)}"#.utf8)))
        return try OutputConstraint.parse(f)!.compile()
    }

    static func accepts(_ grammar: Grammar, _ text: String) throws -> Bool {
        var m = try GrammarMatcher(grammar)
        return m.accept(Array(text.utf8)) && m.isAccepting
    }

    /// Decimals from -13 to 13 with fractions, canonical (no trailing zeros) plus `.0`; `-0` left out (JSON's
    /// negative zero is never generated).
    static let candidates: [String] = (-13...13).flatMap { i in
        ["", ".0", ".5", ".25", ".05", ".999"].compactMap { f -> String? in
            i == 0 ? nil : "\(i)\(f)"
        }
    } + ["0", "0.0", "0.5", "0.25", "0.05", "0.999", "-0.5", "-0.25", "-0.05", "-0.999"]

    @Test("accepted exactly inside the bounds", arguments: [
        (#"{"minimum": -5, "maximum": 3}"#, -5.0, false, 3.0, false),
        (#"{"exclusiveMinimum": -5, "exclusiveMaximum": 3}"#, -5.0, true, 3.0, true),
        (#"{"exclusiveMinimum": 0, "maximum": 1}"#, 0.0, true, 1.0, false),
        (#"{"minimum": 0}"#, 0.0, false, Double.infinity, false),
        (#"{"exclusiveMaximum": 0}"#, -Double.infinity, false, 0.0, true),
        (#"{"minimum": -12, "exclusiveMaximum": -3}"#, -12.0, false, -3.0, true),
        (#"{"minimum": 2, "exclusiveMinimum": 2, "maximum": 7, "exclusiveMaximum": 9}"#, 2.0, true, 7.0, false),
        (#"{"minimum": 4, "maximum": 4}"#, 4.0, false, 4.0, false),
    ])
    func insideBounds(bounds: String, lo: Double, loOpen: Bool, hi: Double, hiOpen: Bool) throws {
        let g = try Self.grammar(#"{"type": "number", "# + bounds.dropFirst())
        for text in Self.candidates {
            let v = Double(text)!
            let inside = (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi)
            #expect(try Self.accepts(g, text) == inside, "\(bounds): \(text)")
        }
        #expect(try !Self.accepts(g, "1e0"), "no exponent under bounds")
    }

    @Test("non-whole or empty bounds are refused")
    func refused() {
        for (schema, reason) in [(#"{"type": "number", "minimum": 1.5}"#, "whole numbers"),
                                 (#"{"type": "number", "maximum": 1e16}"#, "whole numbers"),
                                 (#"{"type": "number", "exclusiveMinimum": 3, "maximum": 3}"#, "leave no value")] {
            do {
                _ = try Self.grammar(schema)
                Issue.record("accepted \(schema)")
            } catch let e as OpenAIError {
                #expect(e.message.contains(reason), "\(e.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
