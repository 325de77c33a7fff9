"""Prefix caching seen from a client: `usage.prompt_tokens_details.cached_tokens` on a repeated long prompt."""
import httpx

from support import MODEL, Server, long_prompt, write_config


def test_repeated_long_prompt_is_cached(server, client, model):
    prompt = long_prompt(server, start_char=0, tokens=1500)
    first = client.completions.create(model=model, prompt=prompt, max_tokens=2, temperature=0)
    assert 1490 <= first.usage.prompt_tokens <= 1510, first.usage
    assert first.usage.prompt_tokens_details.cached_tokens < 1400, "first sight of this prompt: not cached yet"
    second = client.completions.create(model=model, prompt=prompt, max_tokens=2, temperature=0)
    assert second.usage.prompt_tokens == first.usage.prompt_tokens
    assert second.usage.prompt_tokens_details.cached_tokens >= 1400, second.usage
    assert second.choices[0].text == first.choices[0].text, "cached KV must give the same greedy output"


def test_shared_prefix_chat_is_cached(server, client, model):
    """Two chat requests sharing a long system prompt: the second reuses it."""
    system = long_prompt(server, start_char=20_000, tokens=1500)
    def ask(q):
        return client.chat.completions.create(model=model, max_tokens=2, temperature=0, messages=[
            {"role": "system", "content": system}, {"role": "user", "content": q}])
    ask("Summarise section 1.")
    r = ask("What does section 2 say?")
    assert r.usage.prompt_tokens_details.cached_tokens >= 1400, r.usage


def test_cache_salt_isolates(server, model):
    """Requests with different `cache_salt` never share cached blocks."""
    prompt = long_prompt(server, start_char=40_000, tokens=600)
    def go(salt):
        body = {"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0, "cache_salt": salt}
        r = httpx.post(f"{server.url}/v1/completions", json=body, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    go("tenant-a")
    assert go("tenant-a") >= 500
    assert go("tenant-b") == 0


def test_prefix_cache_admin_stats_and_reset(server, model):
    """`GET /prefix_cache/stats` reports the KV type and the hits; `POST /prefix_cache/reset` drops the
    cached blocks, so the same prompt is computed again (cached_tokens 0)."""
    prompt = long_prompt(server, start_char=60_000, tokens=400)
    def go():
        body = {"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0}
        r = httpx.post(f"{server.url}/v1/completions", json=body, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    go()
    assert go() >= 380
    stats = httpx.get(f"{server.url}/prefix_cache/stats", timeout=30).json()
    assert stats["dtype"] == "f16" and stats["bytes_per_token"] > 0, stats   # the server's default type
    assert stats["blocks"]["cached"] >= 24 and stats["hit_tokens"] >= 380, stats
    assert stats["bytes"] == stats["blocks"]["total"] * stats["block_size"] * stats["bytes_per_token"]
    r = httpx.post(f"{server.url}/prefix_cache/reset", json={}, timeout=30)
    assert r.status_code == 200 and r.json()["dropped_blocks"] >= 24, r.text
    assert go() == 0
    after = httpx.get(f"{server.url}/prefix_cache/stats", timeout=30).json()
    assert after["reset_drops"] >= 24, after
    bad = httpx.post(f"{server.url}/prefix_cache/reset", json={"tiers": True}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tiers", bad.text


def test_cache_control_breakpoint_pins_the_prefix(server, model):
    """Anthropic-style `cache_control` on a message pins the prompt up to it; usage reports
    `cache_creation_input_tokens` on the first request and `cache_read_input_tokens` on the next."""
    system = long_prompt(server, start_char=80_000, tokens=600)
    def ask(question, control={"type": "ephemeral", "ttl": "5m"}):
        body = {"model": model, "max_tokens": 1, "temperature": 0, "messages": [
            {"role": "system", "content": [{"type": "text", "text": system, "cache_control": control}]},
            {"role": "user", "content": question}]}
        return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=300)
    first = ask("First question?")
    assert first.status_code == 200, first.text
    u = first.json()["usage"]
    assert u["cache_read_input_tokens"] == u["prompt_tokens_details"]["cached_tokens"] == 0, u
    assert 550 <= u["cache_creation_input_tokens"] <= u["prompt_tokens"], u
    stats = httpx.get(f"{server.url}/prefix_cache/stats", timeout=30).json()
    assert stats["pins"]["active"] >= 1 and stats["blocks"]["pinned"] >= 30, stats
    second = ask("Second question?").json()["usage"]
    assert second["cache_read_input_tokens"] >= 550 and second["cache_creation_input_tokens"] <= 16, second
    bad = ask("x", control={"type": "persistent"})
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["param"] == "messages[0].content[0].cache_control", bad.text
    assert ask("x", control={"type": "ephemeral", "ttl": "2d"}).status_code == 400


def test_q8_0_kv_cache_from_config(tmp_path):
    """`general_settings.kv_cache_dtype: q8_0`: the stats report the type and its real bytes per token (Gemma 3
    270M: 2 x 18 layers x 272 bytes), and a prefix hit gives the cold run's greedy output."""
    config = write_config(tmp_path, f"""
model_list:
  - model_name: gemma-q8
    litellm_params: {{model: local/{MODEL}}}
general_settings:
  kv_cache_dtype: q8_0
""")
    s = Server("--config", str(config), name="kv-q8", with_model=False, model_name="gemma-q8").start()
    try:
        prompt = long_prompt(s, start_char=80_000, tokens=400)
        def go():
            body = {"model": "gemma-q8", "prompt": prompt, "max_tokens": 8, "temperature": 0}
            r = httpx.post(f"{s.url}/v1/completions", json=body, timeout=300)
            assert r.status_code == 200, r.text
            return r.json()
        cold, warm = go(), go()
        assert warm["usage"]["prompt_tokens_details"]["cached_tokens"] >= 380, warm["usage"]
        assert warm["choices"][0]["text"] == cold["choices"][0]["text"]
        stats = httpx.get(f"{s.url}/prefix_cache/stats", timeout=30).json()
        assert stats["dtype"] == "q8_0" and stats["bytes_per_token"] == 2 * 18 * 272, stats
    finally:
        assert s.stop() == 0, s.log_tail()
