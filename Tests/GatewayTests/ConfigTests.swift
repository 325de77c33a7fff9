import Gateway
import Testing

@Suite struct ConfigTests {
    static let specExample = """
    model_list:
      - model_name: gemma-3-270m                 # client-facing name (a "model group")
        litellm_params:
          model: local/models/gemma-3-270m-q4_k_m.gguf   # our provider prefix for the in-process engine
      - model_name: gemma-3-270m                 # a second deployment in the same group: load balancing
        litellm_params:
          model: openai/gpt-4o-mini              # "<provider>/<upstream model id>"
          api_base: https://api.openai.com/v1
          api_key: os.environ/OPENAI_API_KEY     # "os.environ/VAR" reads the environment
          rpm: 600
          timeout: 60                            # total seconds;  stream_timeout: seconds to first chunk
        model_info: {id: openai-mini}
      - model_name: claude
        litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/ANTHROPIC_API_KEY}
      - model_name: minilm
        litellm_params: {model: local/models/all-MiniLM-L6-v2}     # local embedding model
    router_settings:
      routing_strategy: simple-shuffle           # also least-busy, latency-based-routing
      num_retries: 2
      timeout: 600
      allowed_fails: 3
      cooldown_time: 5
      fallbacks: [{"gemma-3-270m": ["claude"]}]
      context_window_fallbacks: [{"gemma-3-270m": ["claude"]}]
      default_fallbacks: ["claude"]
    litellm_settings:
      cache: true
      cache_params: {type: redis, namespace: "llmcache", ttl: 600, similarity_threshold: 0.9,
                     redis_semantic_cache_embedding_model: minilm}
    general_settings:
      master_key: os.environ/MASTER_KEY
    """
    static let env = ["OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a", "MASTER_KEY": "sk-master"]

    @Test func specExampleParses() throws {
        let (config, warnings) = try GatewayConfig.parse(yaml: Self.specExample, environment: Self.env)
        #expect(warnings.isEmpty)
        #expect(config.modelList.count == 4)
        #expect(config.modelGroups == ["gemma-3-270m", "claude", "minilm"])
        let local = config.modelList[0].params
        #expect(local.provider == .local && local.upstreamModel == "models/gemma-3-270m-q4_k_m.gguf")
        let openai = config.modelList[1]
        #expect(openai.params.provider == .openai && openai.params.upstreamModel == "gpt-4o-mini")
        #expect(openai.params.apiKey == "sk-o" && openai.params.rpm == 600 && openai.params.timeout == 60)
        #expect(openai.modelInfo.id == "openai-mini")
        #expect(config.modelList[2].params.provider == .anthropic && config.modelList[2].params.apiKey == "sk-a")
        let r = config.routerSettings
        #expect(r.routingStrategy == .simpleShuffle && r.numRetries == 2 && r.timeout == 600)
        #expect(r.allowedFails == 3 && r.cooldownTime == 5)
        #expect(r.fallbacks == ["gemma-3-270m": ["claude"]])
        #expect(r.contextWindowFallbacks == ["gemma-3-270m": ["claude"]])
        #expect(r.defaultFallbacks == ["claude"])
        #expect(config.litellmSettings.cache)
        let c = config.litellmSettings.cacheParams
        #expect(c.type == "redis" && c.namespace == "llmcache" && c.ttl == 600 && c.similarityThreshold == 0.9)
        #expect(c.embeddingModel == "minilm")
        #expect(config.generalSettings.masterKey == "sk-master")
    }

    @Test func missingEnvironmentVariableNamesTheKey() {
        var env = Self.env
        env["ANTHROPIC_API_KEY"] = nil
        #expect {
            try GatewayConfig.parse(yaml: Self.specExample, environment: env)
        } throws: { error in
            (error as? ConfigError)?.message
                == "model_list[2].litellm_params.api_key: environment variable ANTHROPIC_API_KEY is not set"
        }
    }

    @Test(arguments: [
        ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/y, rpm: x}",
         #"model_list[1].litellm_params.rpm: expected an integer, got "x""#),
        ("router_settings:\n  num_retries: [1]", "router_settings.num_retries: expected a single value, got a list"),
        ("router_settings:\n  cooldown_time: soon", #"router_settings.cooldown_time: expected a number, got "soon""#),
        ("litellm_settings:\n  cache: 1", "litellm_settings.cache: expected true or false, got 1"),
        ("general_settings: {max_output_tokens: 0}", "general_settings.max_output_tokens: expected a positive integer, got 0"),
        ("general_settings: {request_deadline: -1}", "general_settings.request_deadline: expected a positive number, got -1.0"),
        ("general_settings: {tenant_isolation: maybe}", #"general_settings.tenant_isolation: expected true or false, got "maybe""#),
        ("general_settings: {kv_cache_dtype: q4_0}", #"general_settings.kv_cache_dtype: expected f32, f16 or q8_0, got "q4_0""#),
        ("model_list: {a: 1}", "model_list: expected a list, got a mapping"),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: bedrock/x}",
         #"model_list[0].litellm_params.model: unknown provider prefix "bedrock/" (supported: local/, openai/, hosted_vllm/, anthropic/)"#),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: gpt-4o}",
         #"model_list[0].litellm_params.model: "gpt-4o" has no provider prefix (expected one of local/, openai/, hosted_vllm/, anthropic/)"#),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: hosted_vllm/x}",
         "model_list[0].litellm_params.api_base: required for hosted_vllm/ deployments"),
        ("model_list:\n  - litellm_params: {model: openai/x}", "model_list[0].model_name: required"),
        ("router_settings: {routing_strategy: fastest}",
         #"router_settings.routing_strategy: unknown routing strategy "fastest" (supported: simple-shuffle, least-busy, latency-based-routing, prefix-aware)"#),
        ("router_settings: {prefix_cache_threshold: 1.5}", "router_settings.prefix_cache_threshold: must be between 0 and 1, got 1.5"),
        ("router_settings: {prefix_balance_abs_threshold: -1}",
         "router_settings.prefix_balance_abs_threshold: expected an integer from 0 to 1000000, got -1"),
        ("router_settings: {prefix_match_tolerance: -0.1}",
         "router_settings.prefix_match_tolerance: must be between 0 and 1, got -0.1"),
        ("router_settings: {prefix_balance_rel_threshold: 0.5}",
         "router_settings.prefix_balance_rel_threshold: must be between 1 and 1000000, got 0.5"),
        ("router_settings: {prefix_tree_max_bytes: 10}",
         "router_settings.prefix_tree_max_bytes: expected an integer from 1024 to 4294967296, got 10"),
        ("router_settings: {sticky_sessions_max: 0}",
         "router_settings.sticky_sessions_max: expected an integer from 1 to 10000000, got 0"),
        ("router_settings: {cooldown_time: .inf}",
         "router_settings.cooldown_time: expected a finite number of magnitude at most 1e12, got inf"),
        ("router_settings: {timeout: 1e300}",
         "router_settings.timeout: expected a finite number of magnitude at most 1e12, got 1e+300"),
        ("general_settings: {max_response_size_mb: -1}",
         "general_settings.max_response_size_mb: expected a positive number, got -1.0"),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, max_retries: 99}",
         "model_list[0].litellm_params.max_retries: expected an integer from 0 to 10, got 99"),
        ("litellm_settings:\n  cache_params: {supported_call_types: [acompletion, chat]}",
         #"litellm_settings.cache_params.supported_call_types: unknown call type "chat" (known: completion, acompletion, text_completion, atext_completion, embedding, aembedding)"#),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {input_cost_per_token: -1e-6}",
         "model_list[0].model_info.input_cost_per_token: expected a price in USD per token from 0 to 1, got -1e-06"),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {output_cost_per_token: 2}",
         "model_list[0].model_info.output_cost_per_token: expected a price in USD per token from 0 to 1, got 2.0"),
        ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {cache_read_input_token_cost: .nan}",
         "model_list[0].model_info.cache_read_input_token_cost: expected a finite number of magnitude at most 1e12, got nan"),
        ("litellm_settings:\n  cache_params: {type: s3}",
         #"litellm_settings.cache_params.type: unsupported cache type "s3" (supported: local, redis, redis-semantic)"#),
    ])
    func wrongTypesNameTheKeyPath(yaml: String, message: String) {
        #expect {
            try GatewayConfig.parse(yaml: yaml, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.message == message
        }
    }

    @Test func prefixAwareAndStickySettingsParse() throws {
        let yaml = """
            router_settings: {routing_strategy: prefix-aware, prefix_cache_threshold: 0.3, prefix_balance_abs_threshold: 4,
                              prefix_balance_rel_threshold: 2, prefix_tree_max_bytes: 65536, sticky_sessions: true,
                              sticky_sessions_max: 10, prefix_match_tolerance: 0.1}
            """
        let (config, warnings) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        let r = config.routerSettings
        #expect(warnings.isEmpty && r.prefixMatchTolerance == 0.1)
        #expect(r.routingStrategy == .prefixAware && r.prefixCacheThreshold == 0.3 && r.prefixBalanceAbsThreshold == 4)
        #expect(r.prefixBalanceRelThreshold == 2 && r.prefixTreeMaxBytes == 65536 && r.stickySessions && r.stickySessionsMax == 10)
    }

    @Test(arguments: ["f32", "f16", "q8_0"])
    func kvCacheDTypeAcceptsEveryStorageType(dtype: String) throws {
        let yaml = "general_settings: {kv_cache_dtype: \(dtype)}"
        let (config, warnings) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(warnings.isEmpty && config.generalSettings.kvCacheDType == dtype)
    }

    @Test func supportedCallTypesMapToRequestKinds() throws {
        let yaml = "litellm_settings:\n  cache_params: {supported_call_types: [acompletion, completion, aembedding, atranscription]}"
        let (config, warnings) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(config.litellmSettings.cacheParams.supportedKinds == [.chat, .embedding])
        #expect(warnings == [#"litellm_settings.cache_params.supported_call_types: "atranscription" is not served by this gateway (ignored)"#])
    }

    @Test func unknownKeysAreWarnings() throws {
        let yaml = """
        model_list:
          - model_name: a
            litellm_params: {model: openai/x, drop_params: true, weight: 2}
            model_info: {id: a1, mode: chat}
        router_settings: {enable_pre_call_checks: true, routing_strategy: usage-based-routing-v2}
        litellm_settings: {success_callback: ["prometheus"]}
        general_settings: {database_url: "postgres://"}
        mystery: 1
        """
        let (config, warnings) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(config.modelList[0].params.weight == 2)
        #expect(warnings.contains("unknown key model_list[0].litellm_params.drop_params (ignored)"))
        #expect(warnings.contains("unknown key model_list[0].model_info.mode (ignored)"))
        #expect(warnings.contains("unknown key router_settings.enable_pre_call_checks (ignored)"))
        #expect(warnings.contains("unknown key litellm_settings.success_callback (ignored)"))
        #expect(warnings.contains("unknown key general_settings.database_url (ignored)"))
        #expect(warnings.contains("unknown key mystery (ignored)"))
        #expect(warnings.contains { $0.hasPrefix("router_settings.routing_strategy: \"usage-based-routing-v2\"") })
        #expect(warnings.count == 7)
    }

    @Test func fullParameterSetAndKeys() throws {
        let yaml = """
        model_list:
          - model_name: g
            litellm_params:
              model: hosted_vllm/qwen
              api_base: http://10.0.0.2:8000/v1
              api_key: os.environ/VLLM_KEY
              tpm: 1000
              stream_timeout: 1.5
              max_retries: 1
              extra_headers: {X-Team: research}
            model_info: {id: vllm-1, input_cost_per_token: 0.000001, output_cost_per_token: 2e-6,
                         cache_read_input_token_cost: 1e-7, max_input_tokens: 32768}
        router_settings:
          routing_strategy: latency-based-routing
          stream_timeout: 3
          retry_after: 1
          fallbacks: [{"*": ["g"]}]
          content_policy_fallbacks: [{"g": ["g"]}]
          redis_host: localhost
          redis_port: "6380"
        litellm_settings:
          cache: false
          cache_params: {type: local, mode: default_off, ttl: 60, max_entries: 100, host: h, port: 1, password: p}
        general_settings:
          master_key: sk-1
          max_request_size_mb: 2
          tenant_isolation: false
          max_prompt_tokens: 4096
          max_output_tokens: 512
          max_n: 4
          request_deadline: 30
          global_max_parallel_requests: 64
          max_parallel_requests: 8
        keys:
          - {key: os.environ/TEAM_KEY, alias: team, models: [g], cache_namespace: team-a, rpm: 10, tpm: 500}
        """
        let (config, warnings) = try GatewayConfig.parse(
            yaml: yaml, environment: ["VLLM_KEY": "k", "TEAM_KEY": "sk-team", "REDIS_PASSWORD": "pw"])
        // Parsed but not enforced yet: said at start, never accepted silently.
        #expect(warnings == [
            "model_list[0].model_info.max_input_tokens: accepted and ignored (prompts are not counted before routing; "
                + "a context overflow answer from the deployment triggers context_window_fallbacks)",
        ])
        let d = config.modelList[0]
        #expect(d.params.provider == .hostedVLLM && d.params.apiKey == "k" && d.params.tpm == 1000)
        #expect(d.params.streamTimeout == 1.5 && d.params.maxRetries == 1 && d.params.extraHeaders == ["X-Team": "research"])
        #expect(d.modelInfo == ModelInfo(id: "vllm-1", inputCostPerToken: 1e-6, outputCostPerToken: 2e-6,
                                         cacheReadInputTokenCost: 1e-7, maxInputTokens: 32768))
        #expect(config.routerSettings.routingStrategy == .latencyBased && config.routerSettings.streamTimeout == 3)
        #expect(config.routerSettings.fallbacks == ["*": ["g"]] && config.routerSettings.retryAfter == 1)
        #expect(config.routerSettings.redisHost == "localhost" && config.routerSettings.redisPassword == "pw")
        #expect(config.routerSettings.redisPort == 6380)
        #expect(config.litellmSettings.cacheParams.mode == "default_off" && config.litellmSettings.cacheParams.maxEntries == 100)
        let g = config.generalSettings
        #expect(g.maxRequestSizeMB == 2 && g.tenantIsolation == false && g.maxPromptTokens == 4096)
        #expect(g.maxOutputTokens == 512 && g.maxN == 4 && g.requestDeadline == 30)
        #expect(g.globalMaxParallelRequests == 64 && g.maxParallelRequests == 8)
        #expect(config.keys == [VirtualKeyConfig(key: "sk-team", alias: "team", models: ["g"], cacheNamespace: "team-a",
                                                 rpm: 10, tpm: 500)])
    }
}
