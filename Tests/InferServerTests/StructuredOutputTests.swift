import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway

/// `response_format`, `grammar` and `json_schema` on the local model: real generations checked against the
/// schema, and every refusal (unsupported keywords, size and nesting attacks) answered with a 400 naming the field.
@Suite("Structured output")
struct StructuredOutputTests {
    static let person = #"""
        {"type": "object", "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "maxItems": 3},
            "pet": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[A-Z][a-z]{1,8}$"}]}},
         "required": ["name", "age", "tags", "pet"], "additionalProperties": false}
        """#

    /// Checks a value against the `person` schema by hand.
    static func checkPerson(_ text: String) {
        guard let v = try? JSONValue.parse(Data(text.utf8)) else {
            Issue.record("not JSON: \(text.debugDescription)")
            return
        }
        #expect(v.keys == ["name", "age", "tags", "pet"], "\(text)")
        let name = v["name"]?.string ?? ""
        #expect((1...20).contains(name.count), "\(text)")
        #expect((0...120).contains(v["age"]?.int ?? -1), "\(text)")
        let tags = v["tags"]?.array ?? [.null, .null, .null, .null]
        #expect(tags.count <= 3 && tags.allSatisfy { ["a", "b", "c"].contains($0.string ?? "") }, "\(text)")
        if let pet = v["pet"], pet != .null {
            let s = pet.string ?? ""
            #expect(s.range(of: "^[A-Z][a-z]{1,8}$", options: .regularExpression) != nil, "\(text)")
        }
    }

    @Test("json_schema on chat: greedy and sampled answers, streamed or not, validate", arguments: [false, true])
    func chatSchema(_ stream: Bool) async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Describe a person as JSON."}], "max_tokens": 120,
                 "n": 3, "temperature": 1.0, "seed": 7, "stream": \(stream),
                 "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true,
                 "schema": \(Self.person)}}}
                """)
        }
        #expect(r.status == .ok, "\(r.text)")
        var texts = ["", "", ""]
        if stream {
            for event in r.events.dropLast() {
                let chunk = (try? JSONValue.parse(Data(event.utf8))) ?? .null
                for choice in chunk["choices"]?.array ?? [] {
                    let i = choice["index"]?.int ?? 0
                    texts[i] += choice["delta"]?["content"]?.string ?? ""
                }
            }
        } else {
            for (i, choice) in (r.json["choices"]?.array ?? []).enumerated() {
                texts[i] = choice["message"]?["content"]?.string ?? ""
                #expect(choice["finish_reason"]?.string == "stop")
            }
        }
        for t in texts { Self.checkPerson(t) }
    }

    @Test("json_object gives a JSON object; a recursive schema gives a valid tree")
    func jsonObjectAndRecursion() async throws {
        let server = try Fixtures.gemmaServer()
        let tree = ##"{"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"}, "maxItems": 2}}, "required": ["v", "kids"], "additionalProperties": false}"##
        let (a, b) = try await withRouter(server) { c in
            let a = try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Give me a JSON object about cats."}], "max_tokens": 60,
                 "temperature": 0, "response_format": {"type": "json_object"}}
                """)
            let b = try await c.post("/v1/completions", """
                {"prompt": "A tree as JSON: ", "max_tokens": 150, "temperature": 0.8, "seed": 3, "json_schema": \(tree)}
                """)
            return (a, b)
        }
        #expect(a.status == .ok && b.status == .ok, "\(a.text) \(b.text)")
        let object = a.json["choices"]?[0]?["message"]?["content"]?.string ?? ""
        if a.json["choices"]?[0]?["finish_reason"]?.string == "stop" {
            guard case .object? = try? JSONValue.parse(Data(object.utf8)) else {
                Issue.record("not an object: \(object)")
                return
            }
        }
        func valid(_ v: JSONValue) -> Bool {
            guard v.keys == ["v", "kids"], v["v"]?.int != nil, let kids = v["kids"]?.array, kids.count <= 2 else { return false }
            return kids.allSatisfy(valid)
        }
        let text = b.json["choices"]?[0]?["text"]?.string ?? ""
        if b.json["choices"]?[0]?["finish_reason"]?.string == "stop" {
            #expect((try? JSONValue.parse(Data(text.utf8))).map(valid) == true, "\(text)")
        } else {
            #expect(b.json["choices"]?[0]?["finish_reason"]?.string == "length")
        }
    }

    @Test("GBNF in 'grammar' on completions")
    func gbnfCompletion() async throws {
        let server = try Fixtures.gemmaServer()
        let before = server.local!.grammars.hits
        let body = #"{"prompt": "The answer is", "max_tokens": 20, "temperature": 0.9, "seed": 11, "grammar": "root ::= \" \" (\"yes\" | \"no\") \".\""}"#
        let (r1, r2) = try await withRouter(server) { c in
            (try await c.post("/v1/completions", body), try await c.post("/v1/completions", body))
        }
        for r in [r1, r2] {
            #expect(r.status == .ok, "\(r.text)")
            let text = r.json["choices"]?[0]?["text"]?.string ?? ""
            #expect([" yes.", " no."].contains(text), "\(text.debugDescription)")
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "stop")
        }
        #expect(server.local!.grammars.hits >= before + 1)
    }

    static var deep: String {
        var s = #"{"type": "string"}"#
        for _ in 0..<40 { s = #"{"type": "array", "items": \#(s)}"# }
        return s
    }

    static var manyProperties: String {
        "{\"type\": \"object\", \"properties\": {" + (0..<300).map { "\"p\($0)\": {\"type\": \"integer\"}" }.joined(separator: ",") + "}}"
    }

    /// 25 nested `{0,1000}`: each optional step is a rule, so 25,000 rules.
    static var nestedRepetitions: String {
        var p = "a{0,1000}"
        for _ in 0..<24 { p = "(" + p + "){0,1000}" }
        return #"{"type": "string", "pattern": "^"# + p + #"$"}"#
    }

    static var manyBranches: String {
        "{\"anyOf\": [" + Array(repeating: #"{"type": "integer"}"#, count: 6000).joined(separator: ",") + "]}"
    }

    @Test("schemas and grammars the server refuses: 400 naming the field and the reason", arguments: [
        (#"{"type": "object", "patternProperties": {"a": {}}, "allOf": []}"#, "'patternProperties', 'allOf'"),
        (deep, "nests deeper than 32"),
        (manyProperties, "at most 256"),
        (manyBranches, "more than 5000"),
        (##"{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}"##, "left-recursive"),
        (#"{"$ref": "https://example.com/s.json"}"#, "not local"),
        (##"{"$ref": "#/$defs/missing"}"##, "does not resolve"),
        (#"{"type": "string", "pattern": "^(a*)*$"}"#, "left-recursive"),
        (nestedRepetitions, "more than 20000 rules"),
        (#"{"type": "string", "pattern": "(a)\\1"}"#, "backreferences"),
        (#"{"type": "string", "pattern": "(?=a)"}"#, "lookaround"),
        (#"{"type": "integer", "minimum": 5, "maximum": 4}"#, "leave no value"),
        (#"{"type": "number", "minimum": 1.5}"#, "whole numbers"),
        (#"{"type": "string", "format": "email"}"#, "not supported"),
        (#"{"type": "array", "minItems": 5000}"#, "at most 1000"),
    ])
    func refusedSchemas(_ schema: String, _ reason: String) async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5,
                 "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": \(schema)}}}
                """)
        }
        #expect(r.status == .badRequest, "\(r.text)")
        #expect(r.json["error"]?["param"]?.string == "response_format")
        #expect(r.json["error"]?["type"]?.string == "invalid_request_error")
        let message = r.json["error"]?["message"]?.string ?? ""
        #expect(message.contains(reason), "\(message)")
    }

    @Test("bad grammar fields: 400 naming the field", arguments: [
        (#""grammar": "root ::= root \"a\"""#, "grammar", "left-recursive"),
        (#""grammar": "root ::= (((\"a\"""#, "grammar", "expected ')'"),
        (#""grammar": "x ::= \"a\"""#, "grammar", "no 'root' rule"),
        (#""json_schema": {"type": "strin"}"#, "json_schema", "unknown type 'strin'"),
        (#""grammar": "root ::= \"a\"", "json_schema": {}"#, "json_schema", "Only one of"),
        (#""response_format": {"type": "xml"}"#, "response_format", "must be 'text'"),
        (#""response_format": {"type": "json_schema"}"#, "response_format", "must be an object"),
    ])
    func refusedFields(_ fields: String, _ param: String, _ reason: String) async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/completions", #"{"prompt": "hi", "max_tokens": 5, "# + fields + "}")
        }
        #expect(r.status == .badRequest, "\(r.text)")
        #expect(r.json["error"]?["param"]?.string == param)
        let message = r.json["error"]?["message"]?.string ?? ""
        #expect(message.contains(reason), "\(message)")
    }
}
