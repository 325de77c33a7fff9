"""LiteLLM's Python SDK `Router` with a dead primary deployment and this server as the fallback.

conftest sets LITELLM_LOCAL_MODEL_COST_MAP=True and disables telemetry before litellm is imported, so
litellm never touches the network; the dead deployment is a free loopback port nobody listens on.
"""
import pytest

from support import free_port, long_prompt

litellm = pytest.importorskip("litellm")


@pytest.fixture(scope="module", params=["hosted_vllm", "openai"])
def router(request, server):
    litellm.telemetry = False
    dead = free_port()
    model_list = [
        {"model_name": "primary",
         "litellm_params": {"model": f"openai/{server.model}", "api_base": f"http://127.0.0.1:{dead}/v1",
                            "api_key": "unused", "max_retries": 0, "timeout": 30}},
        {"model_name": "local",
         "litellm_params": {"model": f"{request.param}/{server.model}", "api_base": f"{server.url}/v1",
                            "api_key": "unused", "max_retries": 0, "timeout": 300}},
    ]
    r = litellm.Router(model_list=model_list, fallbacks=[{"primary": ["local"]}], num_retries=0)
    r.dead_port = dead
    r.provider = request.param
    return r


def test_fallback_succeeds(router, server):
    resp = router.completion(model="primary", max_tokens=8, temperature=0,
                             messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert resp.choices[0].message.content
    assert resp.choices[0].finish_reason in ("stop", "length")
    assert resp.usage.completion_tokens > 0
    # The answer came from the fallback deployment (ours), not the dead one.
    hidden = getattr(resp, "_hidden_params", {}) or {}
    api_base = hidden.get("api_base") or ""
    assert str(server.port) in api_base and str(router.dead_port) not in api_base, hidden


def test_fallback_reports_cached_tokens(router, server):
    start = 60_000 if router.provider == "openai" else 80_000  # a fresh prefix per provider
    document = long_prompt(server, start_char=start, tokens=1500)
    messages = [{"role": "system", "content": document},
                {"role": "user", "content": "Which parties does the text above name?"}]
    first = router.completion(model="primary", messages=messages, max_tokens=4, temperature=0)
    second = router.completion(model="primary", messages=messages, max_tokens=4, temperature=0)
    assert first.usage.prompt_tokens >= 1500
    details = second.usage.prompt_tokens_details
    assert details is not None, f"LiteLLM dropped prompt_tokens_details: {second.usage}"
    assert details.cached_tokens >= 1400, second.usage
    assert second.choices[0].message.content == first.choices[0].message.content


def test_fallback_streaming(router, server):
    stream = router.completion(model="primary", max_tokens=8, temperature=0, stream=True,
                               messages=[{"role": "user", "content": "Count to five."}])
    text = "".join((chunk.choices[0].delta.content or "") for chunk in stream if chunk.choices)
    assert text
