# Two entry points (see README): `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
MODEL ?= models/gemma-3-270m-q4_k_m.gguf
EMBEDDING_MODEL ?= models/all-MiniLM-L6-v2
PROMPT ?= The capital of France is Paris. The capital of Germany is
MAX_TOKENS ?= 48
SWIFT_FLAGS ?= -c release

.PHONY: run serve test deps models build bench clean

## Install what is missing, fetch the model, build release, generate a continuation of a sample prompt,
## then serve the model on 127.0.0.1:8080 (OpenAI-compatible API, embedded defaults; Ctrl-C stops it).
run: deps models build
	.build/release/infer generate --model $(MODEL) --prompt "$(PROMPT)" --max-tokens $(MAX_TOKENS)
	.build/release/infer serve --model $(MODEL) --embedding-model $(EMBEDDING_MODEL) --host 127.0.0.1 --port 8080

## Serve Gemma 3 270M on 127.0.0.1:8080 with the embedded defaults (OpenAI-compatible API).
serve: deps models build
	.build/release/infer serve --model $(MODEL) --embedding-model $(EMBEDDING_MODEL) --host 127.0.0.1 --port 8080

## Everything the tests need, then all tests (release mode: numeric code is slow in debug): the Swift
## suites, then the end-to-end suite (real server driven by the openai SDK and LiteLLM).
# NOTE: no separate `swift build`: `swift test` builds every target (the `infer` binary the CLI and
# end-to-end tests run included) with testing enabled; a plain build first would compile everything twice.
# Wall-clock-sensitive suites (request deadlines, upstream timeouts, "refused within a second" bounds, Redis
# breaker timings) run in a second pass of their own: in one parallel run the CPU-heavy suites (real-model
# generation, grammar masks over Gemma's vocabulary, reference logits) starve them on a 2-core machine.
TIMED_SUITES := \.(LimitsTests|AuthTests|RouterTests|PrefixRouterTests|UtilityRouteTests|ProviderTests|RedisKVBlockStoreTests|CacheRedisTests|RedisClientTests|RedisClusterTests|RedisClusterKVBlockStoreTests|EmbeddingTests|TokenizerReferenceTests|GrammarMatcherTests|GGUFMalformedTests|LatencyStoreTests)/

test: deps models
	scripts/check-alert-rules
	INFER_REQUIRE_REDIS=1 swift test $(SWIFT_FLAGS) --skip '$(TIMED_SUITES)'
	INFER_REQUIRE_REDIS=1 swift test $(SWIFT_FLAGS) --skip-build --filter '$(TIMED_SUITES)'
	tests/e2e/run

deps:
	@scripts/install-deps

models:
	@models/install

build:
	swift build $(SWIFT_FLAGS)

bench: deps models build
	bench/run-bench

clean:
	rm -rf .build
