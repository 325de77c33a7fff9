"""Response caches through the real server and a real `redis-server` (SPEC-gateway "Exact response cache",
"Semantic cache", "Admin and health endpoints", "Failure behaviour"), driven with the official `openai`
client (cache controls go in `extra_body`, as LiteLLM users send them) and raw httpx for header checks.

Two server instances share one Redis: entries written by one are hit by the other.
"""
import json
import math
import pathlib
import time

import httpx
import pytest

from support import ROOT, RedisServer, Server

EMBEDDINGS = ROOT / "models/all-MiniLM-L6-v2"
REFERENCE = ROOT.parent / "shared/reference/minilm-l6-v2/reference.json"
NAMESPACE = "e2e"


@pytest.fixture(scope="module")
def redis():
    r = RedisServer().start()
    yield r
    r.stop()


def _cached_server(redis, name):
    return Server("--cache", "redis-semantic", "--redis-url", redis.url, "--cache-namespace", NAMESPACE,
                  "--similarity-threshold", "0.9", "--embedding-model", str(EMBEDDINGS), name=name).start()


@pytest.fixture(scope="module")
def cached(redis):
    s = _cached_server(redis, "cache-a")
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def cached_b(redis, cached):
    s = _cached_server(redis, "cache-b")
    yield s
    assert s.stop() == 0


def chat(server, content, system=None, **extra):
    # NOTE: without an explicit system prompt each question gets its own (derived) one, so that only the
    # semantic test's requests share a semantic scope; exact-cache tests then never see a semantic hit from
    # another test's similar question.
    system = system or f"Exact-cache test: {content}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
    raw = server.client().chat.completions.with_raw_response.create(
        model=server.model, messages=messages, max_tokens=6, temperature=0, extra_body=extra or None)
    return raw.headers, raw.parse()


def test_exact_hit_after_miss_and_key_order(cached):
    h1, r1 = chat(cached, "Name a colour. (exact test)")
    h2, r2 = chat(cached, "Name a colour. (exact test)")
    assert h1["x-cache"] == "MISS" and h2["x-cache"] == "HIT"
    assert h2["x-litellm-cache-key"].startswith(NAMESPACE + ":")
    assert r2.choices[0].message.content == r1.choices[0].message.content
    assert r2.id != r1.id and r2.model == cached.model
    # The same request with its JSON fields in another order is the same entry (LiteLLM misses here).
    body = {"temperature": 0, "max_tokens": 6,
            "messages": [{"content": "Exact-cache test: Name a colour. (exact test)", "role": "system"},
                         {"content": "Name a colour. (exact test)", "role": "user"}], "model": cached.model}
    r3 = httpx.post(f"{cached.url}/v1/chat/completions", content=json.dumps(body), timeout=60,
                    headers={"content-type": "application/json"})
    assert r3.status_code == 200 and r3.headers["x-cache"] == "HIT"
    assert r3.headers["x-litellm-cache-key"] == h2["x-litellm-cache-key"]


def test_streaming_hit_replays_as_sse(cached):
    _, plain = chat(cached, "Name a fruit. (stream test)")
    stream = cached.client().chat.completions.create(
        model=cached.model, messages=[{"role": "system", "content": "Exact-cache test: Name a fruit. (stream test)"},
                                      {"role": "user", "content": "Name a fruit. (stream test)"}],
        max_tokens=6, temperature=0, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage is not None
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == [plain.choices[0].finish_reason]


def test_streaming_miss_is_stored(cached):
    stream = cached.client().chat.completions.create(
        model=cached.model, messages=[{"role": "system", "content": "Exact-cache test: Name a tree. (stored stream)"},
                                      {"role": "user", "content": "Name a tree. (stored stream)"}],
        max_tokens=6, temperature=0, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    headers, again = chat(cached, "Name a tree. (stored stream)")
    assert headers["x-cache"] == "HIT"
    assert again.choices[0].message.content == text


def test_cache_controls(cached, redis):
    q = "Name a river. (controls)"
    h, _ = chat(cached, q, cache={"no-store": True})
    assert h["x-cache"] == "MISS"
    h, _ = chat(cached, q)
    assert h["x-cache"] == "MISS", "no-store must not have stored the first answer"
    h, _ = chat(cached, q)
    assert h["x-cache"] == "HIT"
    h, _ = chat(cached, q, cache={"no-cache": True})
    assert h["x-cache"] == "BYPASS"
    h, _ = chat(cached, q, cache={"namespace": "other-ns"})
    assert h["x-cache"] == "MISS"
    # s-maxage: an entry older than N seconds is not a hit.
    time.sleep(1.2)
    h, _ = chat(cached, q, cache={"s-maxage": 1})
    assert h["x-cache"] == "MISS"
    h, _ = chat(cached, q, cache={"s-maxage": 600})
    assert h["x-cache"] == "HIT"
    # ttl: the Redis entry gets that TTL.
    chat(cached, "Name a lake. (ttl)", cache={"ttl": 120})
    hit = chat(cached, "Name a lake. (ttl)")[0]
    assert hit["x-cache"] == "HIT"
    ttl = int(redis.command("TTL", hit["x-litellm-cache-key"]).lstrip(":"))
    assert 0 < ttl <= 120
    # Cache-Control request header (extension).
    r = httpx.post(f"{cached.url}/v1/chat/completions", timeout=60, headers={"cache-control": "no-cache"},
                   json={"model": cached.model, "max_tokens": 6, "temperature": 0,
                         "messages": [{"role": "system", "content": f"Exact-cache test: {q}"},
                                      {"role": "user", "content": q}]})
    assert r.headers["x-cache"] == "BYPASS"
    bad = httpx.post(f"{cached.url}/v1/chat/completions", timeout=60,
                     json={"model": cached.model, "messages": [{"role": "user", "content": q}], "cache": {"ttl": "x"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"].startswith("cache")


def test_stored_envelope_in_redis(cached, redis):
    h, r = chat(cached, "Name a bird. (envelope)")
    h2, _ = chat(cached, "Name a bird. (envelope)")
    stored = json.loads(redis.command("GET", h2["x-litellm-cache-key"]))
    assert set(stored) == {"timestamp", "response"}
    assert stored["response"]["choices"][0]["message"]["content"] == r.choices[0].message.content


def test_semantic_hit_paraphrase_and_misses(cached):
    system = "You answer in one word."
    h1, r1 = chat(cached, "What is the weather in Beijing?", system=system)
    assert h1["x-cache"] == "MISS"
    # Cosine of this paraphrase pair with our MiniLM: 0.9469 (>= 0.9), and the verifier finds no difference.
    h2, r2 = chat(cached, "What's the weather like in Beijing?", system=system)
    assert h2["x-cache"] == "SEMANTIC_HIT", dict(h2)
    assert float(h2["x-litellm-semantic-similarity"]) >= 0.9
    assert h2["x-semantic-verdict"] == "same"
    assert r2.choices[0].message.content == r1.choices[0].message.content
    # An unrelated question misses; the same paraphrase under another system prompt misses.
    h3, _ = chat(cached, "How do I reset my password?", system=system)
    assert h3["x-cache"] == "MISS"
    h4, _ = chat(cached, "How's the weather in Beijing today?", system="You answer in French.")
    assert h4["x-cache"] == "MISS"
    # Another sampling setting is another scope.
    raw = cached.client().chat.completions.with_raw_response.create(
        model=cached.model, max_tokens=7, temperature=0,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "How's the weather in Beijing today?"}])
    assert "x-litellm-semantic-similarity" not in raw.headers or raw.headers["x-cache"] == "MISS"
    assert raw.headers["x-cache"] == "MISS"


def test_near_miss_above_the_threshold_is_refused_by_the_verifier(cached):
    """The issue's example: cosine 0.995, but the conversion goes the other way; the cached answer is not served."""
    system = "You explain unit conversions."
    before = httpx.get(f"{cached.url}/cache/stats", timeout=30).json()
    h1, _ = chat(cached, "How do I convert Celsius to Fahrenheit?", system=system)
    assert h1["x-cache"] == "MISS"
    h2, _ = chat(cached, "How do I convert Fahrenheit to Celsius?", system=system)
    assert h2["x-cache"] == "MISS", dict(h2)
    assert float(h2["x-litellm-semantic-similarity"]) >= 0.99
    assert h2["x-semantic-verdict"] == "different (direction)"
    # The negation example too.
    chat(cached, "Is coffee good for you?", system=system)
    h3, _ = chat(cached, "Is coffee not good for you?", system=system)
    assert h3["x-cache"] == "MISS" and h3["x-semantic-verdict"] == "different (negation)"
    after = httpx.get(f"{cached.url}/cache/stats", timeout=30).json()
    assert after["semantic_rejections"] == before.get("semantic_rejections", 0) + 2
    assert after["semantic_rejections_by_rule"]["direction"] >= 1


def test_second_instance_shares_entries(cached, cached_b):
    h, r = chat(cached, "Name a mountain. (shared)")
    assert h["x-cache"] == "MISS"
    h2, r2 = chat(cached_b, "Name a mountain. (shared)")
    assert h2["x-cache"] == "HIT"
    assert r2.choices[0].message.content == r.choices[0].message.content


def test_admin_endpoints_flush_only_namespace(cached, redis):
    ping = httpx.get(f"{cached.url}/cache/ping", timeout=10).json()
    assert ping["status"] == "healthy" and ping["cache_type"] == "redis" and ping["ping_response"] is True
    redis.command("SET", "unrelated:key", "keep-me")
    chat(cached, "Name a planet. (flush)")
    h, _ = chat(cached, "Name a planet. (flush)")
    assert h["x-cache"] == "HIT"
    r = httpx.post(f"{cached.url}/cache/delete", json={"keys": [h["x-litellm-cache-key"]]}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "success"
    # The exact entry is gone (its semantic twin, stored under its own key, may still answer).
    assert chat(cached, "Name a planet. (flush)", cache={"no-store": True})[0]["x-cache"] in ("MISS", "SEMANTIC_HIT")
    assert httpx.post(f"{cached.url}/cache/flushall", timeout=10).json()["status"] == "success"
    assert redis.command("GET", "unrelated:key") == "keep-me"
    assert chat(cached, "Name a planet. (flush)")[0]["x-cache"] == "MISS"
    stats = httpx.get(f"{cached.url}/cache/stats", timeout=10).json()
    assert stats["hits"] >= 1 and stats["misses"] >= 1 and stats["redis"] == "connected"


def test_redis_outage_bypasses_then_resumes(cached, redis):
    chat(cached, "Name a sea. (outage)")
    redis.stop()
    try:
        for i in range(3):
            started = time.monotonic()
            h, r = chat(cached, f"Name a sea. (outage {i})")
            assert h["x-cache"] == "BYPASS" and r.choices[0].message.content is not None
            assert time.monotonic() - started < 30
        ping = httpx.get(f"{cached.url}/cache/ping", timeout=10)
        assert ping.status_code == 503
    finally:
        redis.start()
    deadline = time.monotonic() + 30
    while True:
        h, _ = chat(cached, "Which instrument has 88 keys?")
        if h["x-cache"] != "BYPASS" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert h["x-cache"] in ("MISS", "HIT")
    assert chat(cached, "Which instrument has 88 keys?")[0]["x-cache"] == "HIT"


def test_embeddings_match_reference_and_are_cached(cached):
    ref = json.loads(REFERENCE.read_text())
    sentences = ref["sentences"][:4]
    client = cached.client()
    raw = client.embeddings.with_raw_response.create(model="all-MiniLM-L6-v2", input=[s["text"] for s in sentences])
    assert raw.headers["x-cache"] == "MISS"
    resp = raw.parse()
    assert [d.index for d in resp.data] == list(range(len(sentences)))
    for d, s in zip(resp.data, sentences):
        cos = sum(a * b for a, b in zip(d.embedding, s["embedding"]))
        assert cos >= 0.999 and abs(math.sqrt(sum(a * a for a in d.embedding)) - 1) < 1e-4
    assert resp.usage.prompt_tokens == sum(s["n_tokens"] for s in sentences)
    again = client.embeddings.with_raw_response.create(model="all-MiniLM-L6-v2", input=sentences[0]["text"])
    assert again.headers["x-cache"] == "HIT"
    import base64
    import struct
    plain = client.embeddings.create(model="all-MiniLM-L6-v2", input="plain text")
    b64 = client.embeddings.create(model="all-MiniLM-L6-v2", input="plain text", encoding_format="base64")
    raw_bytes = base64.b64decode(b64.data[0].embedding)
    assert len(raw_bytes) == 384 * 4
    decoded = struct.unpack("<384f", raw_bytes)
    assert max(abs(a - b) for a, b in zip(decoded, plain.data[0].embedding)) < 1e-6
