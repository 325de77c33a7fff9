import Foundation
import Yams

/// `model_list` entries: a deployment and its `litellm_params`.
extension GatewayConfig {
    static func parseDeployment(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> ModelDeploymentConfig {
        let pairs = try reader.mapping(node, path)
        let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        let name = try reader.requiredString(fields["model_name"], "\(path).model_name")
        guard let paramsNode = fields["litellm_params"] else { throw ConfigError("\(path).litellm_params: required") }
        let params = try parseParams(paramsNode, "\(path).litellm_params", &reader)
        var info = ModelInfo()
        if let infoNode = fields["model_info"] {
            let infoPath = "\(path).model_info"
            for (key, value) in try reader.mapping(infoNode, infoPath) {
                let p = "\(infoPath).\(key)"
                switch key {
                case "id": info.id = try reader.string(value, p)
                case "input_cost_per_token": info.inputCostPerToken = try reader.price(value, p)
                case "output_cost_per_token": info.outputCostPerToken = try reader.price(value, p)
                case "cache_read_input_token_cost": info.cacheReadInputTokenCost = try reader.price(value, p)
                case "supports_vision": info.supportsVision = try reader.bool(value, p) ?? false
                case "vision_fallback": info.visionFallback = try reader.string(value, p)
                case "max_input_tokens":
                    info.maxInputTokens = try reader.positiveInt(value, p)
                    reader.warnings.append("\(p): accepted and ignored (prompts are not counted before routing; "
                        + "a context overflow answer from the deployment triggers context_window_fallbacks)")
                default: reader.unknownKey(p)
                }
            }
        }
        for (key, _) in pairs where !["model_name", "litellm_params", "model_info"].contains(key) {
            reader.unknownKey("\(path).\(key)")
        }
        return ModelDeploymentConfig(modelName: name, params: params, modelInfo: info)
    }

    static func parseParams(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> DeploymentParams {
        let pairs = try reader.mapping(node, path)
        let model = try reader.requiredString(pairs.first { $0.0 == "model" }?.1, "\(path).model")
        guard let slash = model.firstIndex(of: "/") else {
            throw ConfigError("\(path).model: \"\(model)\" has no provider prefix (expected one of "
                + ProviderKind.allCases.map { "\($0.rawValue)/" }.joined(separator: ", ") + ")")
        }
        let prefix = String(model[..<slash])
        guard let provider = ProviderKind(rawValue: prefix) else {
            throw ConfigError("\(path).model: unknown provider prefix \"\(prefix)/\" (supported: "
                + ProviderKind.allCases.map { "\($0.rawValue)/" }.joined(separator: ", ") + ")")
        }
        let upstream = String(model[model.index(after: slash)...])
        if upstream.isEmpty { throw ConfigError("\(path).model: missing the model id after \"\(prefix)/\"") }
        var params = DeploymentParams(model: model, provider: provider, upstreamModel: upstream)
        for (key, value) in pairs {
            let p = "\(path).\(key)"
            switch key {
            case "model": break
            case "api_base": params.apiBase = try reader.string(value, p)
            case "api_key": params.apiKey = try reader.string(value, p)
            case "rpm": params.rpm = try reader.int(value, p)
            case "tpm": params.tpm = try reader.int(value, p)
            case "weight": params.weight = try reader.double(value, p)
            case "timeout": params.timeout = try reader.double(value, p)
            case "stream_timeout": params.streamTimeout = try reader.double(value, p)
            case "max_retries":
                let retries = try reader.int(value, p)
                if let retries, !(0...10).contains(retries) {
                    throw ConfigError("\(p): expected an integer from 0 to 10, got \(retries)")
                }
                params.maxRetries = retries
            case "message_fixes":
                if case .scalar = value {
                    params.messageFixes = try reader.bool(value, p) == true ? .all : nil
                } else {
                    var fixes: [MessageFixes.Fix] = []
                    for name in try reader.stringList(value, p) {
                        guard let fix = MessageFixes.Fix(rawValue: name) else {
                            throw ConfigError("\(p): unknown fix \"\(name)\" (known: "
                                + MessageFixes.Fix.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                        }
                        fixes.append(fix)
                    }
                    params.messageFixes = MessageFixes(fixes)
                }
            case "lora":
                guard provider == .local, upstream.hasSuffix(".gguf") else {
                    throw ConfigError("\(p): LoRA adapters need a local/ GGUF deployment")
                }
                for (name, adapter) in try reader.mapping(value, p) {
                    guard !name.isEmpty, let path = try reader.string(adapter, "\(p).\(name)"), !path.isEmpty else {
                        throw ConfigError("\(p).\(name): expected an adapter name and a file path")
                    }
                    params.lora.append((name, path))
                }
            case "extra_headers", "headers":
                for (name, header) in try reader.mapping(value, p) {
                    params.extraHeaders[name] = try reader.string(header, "\(p).\(name)") ?? ""
                }
            default: reader.unknownKey(p)
            }
        }
        if provider == .hostedVLLM, params.apiBase == nil {
            throw ConfigError("\(path).api_base: required for hosted_vllm/ deployments")
        }
        return params
    }
}
