"""Prefix caching seen from a client: `usage.prompt_tokens_details.cached_tokens` on a repeated long prompt."""
import httpx

from support import long_prompt


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
