"""The `model_list` router over real HTTP (SPEC-gateway "Config file", "Router, retries, fallbacks,
cooldowns"): a gateway instance started from a LiteLLM-style YAML file whose primary deployment is a dead
port, with a second instance of this server as an `openai/` remote and the in-process engine as `local/`.
"""
import json
import subprocess

import httpx
import pytest

from support import INFER_BIN, MODEL, Server, free_port


@pytest.fixture(scope="module")
def gateway(server, tmp_path_factory):
    dead = free_port()
    config = tmp_path_factory.mktemp("gw") / "config.yaml"
    config.write_text(f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{dead}/v1
      api_key: os.environ/E2E_FAKE_KEY
      timeout: 10
  - model_name: remote-gemma
    litellm_params:
      model: openai/{server.model}
      api_base: {server.url}/v1
      api_key: unused
  - model_name: gemma
    litellm_params:
      model: local/{MODEL}
router_settings:
  num_retries: 1
  retry_after: 0
  fallbacks: [{{"gpt-4o-mini": ["remote-gemma", "gemma"]}}]
some_unknown_section: true
""")
    import os
    os.environ["E2E_FAKE_KEY"] = "sk-unused"
    s = Server("--config", str(config), name="gateway", with_model=False, model_name="gemma").start()
    s.dead_port = dead
    yield s
    assert s.stop() == 0


def post(gw, body, **kw):
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=120, **kw)


def test_models_lists_groups(gateway):
    ids = [m.id for m in gateway.client().models.list().data]
    assert ids == ["gpt-4o-mini", "remote-gemma", "gemma"]


def test_fallback_chain_to_second_instance(gateway, server):
    r = post(gateway, {"model": "gpt-4o-mini", "max_tokens": 6, "temperature": 0,
                       "messages": [{"role": "user", "content": "Say hello."}]})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "gpt-4o-mini"
    assert r.headers["x-litellm-model-group"] == "remote-gemma"
    assert r.headers["x-litellm-model-api-base"] == f"{server.url}/v1"
    assert int(r.headers["x-litellm-attempted-fallbacks"]) == 1
    assert int(r.headers["x-litellm-attempted-retries"]) >= 1
    assert r.json()["choices"][0]["message"]["content"]


def test_streaming_through_fallback(gateway):
    stream = gateway.client().chat.completions.create(
        model="gpt-4o-mini", max_tokens=6, temperature=0, stream=True,
        messages=[{"role": "user", "content": "Count to three."}])
    chunks = list(stream)
    assert all(c.model == "gpt-4o-mini" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_request_level_fallbacks_and_disable(gateway):
    r = post(gateway, {"model": "gpt-4o-mini", "max_tokens": 4, "fallbacks": ["gemma"],
                       "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 200 and r.headers["x-litellm-model-group"] == "gemma"
    r = post(gateway, {"model": "gpt-4o-mini", "max_tokens": 4, "disable_fallbacks": True,
                       "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code >= 500
    err = r.json()["error"]
    assert err["message"] and "type" in err


def test_local_group_reports_cached_tokens(gateway):
    messages = [{"role": "user", "content": "Tell me about licenses. " * 120}]
    first = post(gateway, {"model": "gemma", "max_tokens": 2, "messages": messages})
    second = post(gateway, {"model": "gemma", "max_tokens": 2, "messages": messages})
    assert first.status_code == second.status_code == 200
    assert second.json()["usage"]["prompt_tokens_details"]["cached_tokens"] >= 512
    assert second.headers["x-litellm-model-group"] == "gemma"


def test_unknown_model_is_404(gateway):
    r = post(gateway, {"model": "nope", "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_bad_config_fails_at_start_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f"model_list:\n  - model_name: x\n    litellm_params: {{model: local/{MODEL}, rpm: lots}}\n")
    p = subprocess.run([str(INFER_BIN), "serve", "--config", str(config), "--port", "0"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode != 0
    assert "model_list[0].litellm_params.rpm" in p.stderr, p.stderr


@pytest.fixture(scope="module")
def shared_redis():
    from support import RedisServer
    r = RedisServer().start()
    yield r
    r.stop()


def _cooldown_gateway(redis, config_dir, dead, name):
    config = config_dir / f"{name}.yaml"
    config.write_text(f"""
model_list:
  - model_name: pool
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:{dead}/v1", api_key: unused, weight: 1000}}
    model_info: {{id: dead-openai}}
  - model_name: pool
    litellm_params: {{model: local/{MODEL}, weight: 1}}
    model_info: {{id: local-gemma}}
router_settings:
  num_retries: 2
  retry_after: 0
  allowed_fails: 0
  cooldown_time: 60
  redis_url: {redis.url}
""")
    return Server("--config", str(config), name=name, with_model=False, model_name="pool").start()


def test_cooldown_shared_between_instances(shared_redis, tmp_path):
    dead = free_port()
    a = _cooldown_gateway(shared_redis, tmp_path, dead, "cool-a")
    b = _cooldown_gateway(shared_redis, tmp_path, dead, "cool-b")
    try:
        body = {"model": "pool", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}
        # A picks the heavy dead deployment, fails, cools it down (allowed_fails 0), retries on the local one.
        ra = post(a, body)
        assert ra.status_code == 200, ra.text
        assert ra.headers["x-litellm-model-id"] == "local-gemma"
        assert int(ra.headers["x-litellm-attempted-retries"]) >= 1
        assert shared_redis.command("EXISTS", "infer:cooldown:dead-openai") == ":1"
        # B never saw a failure, yet skips the dead deployment (weight 1000:1) without a retry: the cooldown
        # came from Redis.
        for _ in range(3):
            rb = post(b, body)
            assert rb.status_code == 200, rb.text
            assert rb.headers["x-litellm-model-id"] == "local-gemma"
            assert rb.headers["x-litellm-attempted-retries"] == "0"
        # Cooldown over (key removed): B tries the dead deployment again and has to retry.
        shared_redis.command("DEL", "infer:cooldown:dead-openai")
        retried = [int(post(b, body).headers["x-litellm-attempted-retries"]) for _ in range(3)]
        assert max(retried) >= 1, retried
    finally:
        assert a.stop() == 0 and b.stop() == 0


class _LongContextStub:
    """A remote OpenAI-compatible model with a longer context than the local one. We cannot reach a real
    hosted model here, so this small loopback server answers /v1/chat/completions with a fixed reply and
    records what it was sent."""

    def __init__(self):
        import http.server
        import threading
        stub = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                stub.requests.append(body)
                reply = json.dumps({
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "long context answer"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 40000, "completion_tokens": 3, "total_tokens": 40003}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_context_window_fallback_to_longer_remote(tmp_path):
    from support import license_text
    stub = _LongContextStub()
    config = tmp_path / "ctx.yaml"
    config.write_text(f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
  - model_name: long-context
    litellm_params: {{model: openai/long-128k, api_base: "{stub.url}", api_key: unused}}
router_settings:
  num_retries: 2
  context_window_fallbacks: [{{"gemma": ["long-context"]}}]
""")
    gw = Server("--config", str(config), name="ctx", with_model=False, model_name="gemma").start()
    try:
        text = license_text()
        prompt = (text * (1 + 160_000 // len(text)))[:160_000]   # about 38k Gemma tokens: over the 32k context
        r = post(gw, {"model": "gemma", "max_tokens": 4, "cache": {"no-store": True},
                      "messages": [{"role": "user", "content": prompt}]})
        assert r.status_code == 200, r.text[:500]
        assert r.headers["x-litellm-model-group"] == "long-context"
        assert r.headers["x-litellm-attempted-fallbacks"] == "1"
        assert r.headers["x-litellm-attempted-retries"] == "0"   # context errors fall back at once
        assert r.json()["model"] == "gemma"
        assert r.json()["choices"][0]["message"]["content"] == "long context answer"
        assert stub.requests and stub.requests[-1]["model"] == "long-128k"
        assert "cache" not in stub.requests[-1]   # gateway-only fields are not sent upstream
        # Without the fallback the client gets the local context error.
        r = post(gw, {"model": "gemma", "max_tokens": 4, "disable_fallbacks": True,
                      "messages": [{"role": "user", "content": prompt}]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    finally:
        assert gw.stop() == 0
        stub.close()
