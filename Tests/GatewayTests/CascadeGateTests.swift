import Gateway
import Testing

@Suite("Cascade gate")
struct CascadeGateTests {
    static func answer(_ text: String, finish: String = "stop", logprobs: [Double]? = nil) -> JSONValue {
        var choice: [(String, JSONValue)] = [("index", 0), ("message", ["role": "assistant", "content": .string(text)]),
                                             ("finish_reason", .string(finish))]
        if let logprobs {
            choice.append(("logprobs", ["content": .array(logprobs.map { ["token": "x", "logprob": .double($0)] })]))
        }
        return ["choices": [.object(choice)]]
    }

    @Test func meanLogprobGate() {
        let gate = CascadeGate(minMeanLogprob: -1.0)
        #expect(gate.rejection(of: Self.answer("Paris", logprobs: [-0.1, -0.5]), request: [:]) == nil)
        #expect(gate.rejection(of: Self.answer("Lyon", logprobs: [-0.5, -2.5]), request: [:]) == "mean logprob -1.50 < -1.00")
        #expect(gate.rejection(of: Self.answer("Paris"), request: [:]) == "no logprobs")
    }

    @Test func truncatedJSONAndRefusalGates() {
        let gate = CascadeGate(rejectTruncated: true, requireValidJSON: true, rejectRefusals: true)
        let json: JSONValue = ["response_format": ["type": "json_object"]]
        #expect(gate.rejection(of: Self.answer("{\"a\": 1", finish: "length"), request: json) == "truncated")
        #expect(gate.rejection(of: Self.answer("{\"a\": 1"), request: json) == "invalid JSON")
        #expect(gate.rejection(of: Self.answer("{\"a\": 1}"), request: json) == nil)
        #expect(gate.rejection(of: Self.answer("not json"), request: [:]) == nil, "JSON is only required when asked for")
        #expect(gate.rejection(of: Self.answer("I'm sorry, but I cannot help."), request: [:]) == "refusal")
        #expect(gate.rejection(of: ["choices": []], request: [:]) == "no choices")
    }

    @Test func configNeedsKnownTiersAndAFreshName() throws {
        func router(_ cascades: String) throws -> ProviderRouter {
            let yaml = """
            model_list:
              - model_name: small
                litellm_params: {model: openai/s, api_base: "http://127.0.0.1:9/v1"}
              - model_name: big
                litellm_params: {model: openai/b, api_base: "http://127.0.0.1:9/v1"}
            router_settings:
              cascades: \(cascades)
            """
            return try ProviderRouter(config: try GatewayConfig.parse(yaml: yaml).0)
        }
        let ok = try router("[{model_name: smart, tiers: [small, big], accept: {min_mean_logprob: -1.0, reject_truncated: true}}]")
        #expect(ok.settings.cascades == [Cascade(name: "smart", tiers: ["small", "big"],
                                                 gate: CascadeGate(minMeanLogprob: -1.0, rejectTruncated: true))])
        #expect(throws: ConfigError.self) { try router("[{model_name: smart, tiers: [small, huge]}]") }
        #expect(throws: ConfigError.self) { try router("[{model_name: small, tiers: [small, big]}]") }
        #expect(throws: ConfigError.self) { try router("[{model_name: smart, tiers: [small]}]") }
        let classified = try router("[{model_name: smart, tiers: [small, big], classifier: {min_prompt_chars: 4000, code: true, math: true, route_to: big}}]")
        #expect(classified.settings.cascades.first?.classifier
            == CascadeClassifier(minPromptChars: 4000, code: true, math: true, routeTo: "big"))
        do {
            _ = try router("[{model_name: smart, tiers: [small, big], classifier: {route_to: huge}}]")
            Issue.record("route_to outside the tiers was accepted")
        } catch let error as ConfigError {
            #expect(error.message == "router_settings.cascades[0].classifier.route_to: \"huge\" is not one of the cascade's tiers")
        }
        #expect(throws: ConfigError.self) { try router("[{model_name: smart, tiers: [small, big], classifier: {min_prompt_chars: 0}}]") }
    }
}
