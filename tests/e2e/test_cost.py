"""Cost, spend reports and savings per layer (issue 21) through real servers: a gateway whose `gemma` group
is the in-process engine (priced like a cheap local model, prompt-cache reads free) with a second instance of
this server as its priced `openai/` fallback; the response cache (exact + semantic) in a real `redis-server`;
virtual keys. Driven with the official `openai` client.

Every expected amount is recomputed here from the `usage` the server returned and the prices in the config,
in exact decimal arithmetic (`decimal.Decimal`): the server keeps money as integer pico-dollars.
"""
import hashlib
import time
from decimal import Decimal as D

import httpx
import pytest

from support import ROOT, MODEL, RedisServer, Server

EMBEDDINGS = ROOT / "models/all-MiniLM-L6-v2"
MASTER = "sk-master-cost"
ALICE, BOB = "sk-alice-cost", "sk-bob-cost"
LOCAL = {"in": D("1e-8"), "cached": D("0"), "out": D("2e-8")}
REMOTE = {"in": D("0.000001"), "cached": D("0.000001"), "out": D("0.000002")}   # no cache_read price: input
SYSTEM = ("You are a terse assistant for the cost tests. Answer in one short sentence. "
          + "Background: " + "the quick brown fox jumps over the lazy dog. " * 24)


def hashed(key):
    return hashlib.sha256(key.encode()).hexdigest()


def cost(usage, prices):
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return (prompt - cached) * prices["in"] + cached * prices["cached"] + completion * prices["out"]


def uncached(usage, prices):
    return usage["prompt_tokens"] * prices["in"] + usage["completion_tokens"] * prices["out"]


@pytest.fixture(scope="module")
def redis():
    r = RedisServer().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def gateway(server, redis, tmp_path_factory):
    config = tmp_path_factory.mktemp("cost") / "config.yaml"
    config.write_text(f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
    model_info: {{id: local-gemma, input_cost_per_token: 1e-8, output_cost_per_token: 2e-8,
                 cache_read_input_token_cost: 0}}
  - model_name: remote-gemma
    litellm_params: {{model: openai/{server.model}, api_base: {server.url}/v1, api_key: unused}}
    model_info: {{id: remote-gemma, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
  - model_name: minilm
    litellm_params: {{model: local/{EMBEDDINGS}}}
    model_info: {{id: minilm-local, input_cost_per_token: 1e-9}}
router_settings:
  fallbacks: [{{"gemma": ["remote-gemma"]}}]
litellm_settings:
  cache: true
  cache_params: {{type: redis-semantic, url: "{redis.url}", namespace: cost, similarity_threshold: 0.9,
                 redis_semantic_cache_embedding_model: minilm}}
general_settings:
  master_key: {MASTER}
keys:
  - {{key: {ALICE}, alias: alice}}
  - {{key: {BOB}, alias: bob, models: [gemma]}}
""")
    s = Server("--config", str(config), name="cost", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


def chat(gw, key, content, model="gemma", system=SYSTEM, **extra):
    raw = gw.client(api_key=key).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "system", "content": system}, {"role": "user", "content": content}],
        max_tokens=5, temperature=0, extra_body=extra or None)
    return raw.headers, raw.parse().model_dump()


def admin(gw, path, key=MASTER):
    return httpx.get(f"{gw.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def key_row(gw, key):
    rows = admin(gw, "/global/spend/keys").json()
    return next(r for r in rows if r["api_key"] == hashed(key))


def test_cost_header_prefix_and_local_savings(gateway):
    before = key_row_or_none(gateway, ALICE)
    no_cache = {"cache": {"no-cache": True, "no-store": True}}
    h1, r1 = chat(gateway, ALICE, "Name a colour.", **no_cache)
    h2, r2 = chat(gateway, ALICE, "Name a fruit.", **no_cache)
    for h, r in ((h1, r1), (h2, r2)):
        assert h["x-litellm-model-id"] == "local-gemma"
        assert D(h["x-litellm-response-cost"]) == cost(r["usage"], LOCAL)
    # The shared system prompt was computed once: the second request read it from the prefix cache.
    assert r2["usage"]["prompt_tokens_details"]["cached_tokens"] >= 256
    row = key_row(gateway, ALICE)
    spent = sum((cost(r["usage"], LOCAL) for r in (r1, r2)), D(0))
    prefix = sum((uncached(r["usage"], LOCAL) - cost(r["usage"], LOCAL) for r in (r1, r2)), D(0))
    local = sum((uncached(r["usage"], REMOTE) - uncached(r["usage"], LOCAL) for r in (r1, r2)), D(0))
    base = before or {"total_spend": 0, "requests": 0, "saved": {"prefix_cache": 0, "local_instead_of_fallback": 0}}
    assert row["key_alias"] == "alice" and row["requests"] == base["requests"] + 2
    assert row["total_spend"] - base["total_spend"] == pytest.approx(float(spent), rel=1e-9)
    assert row["saved"]["prefix_cache"] - base["saved"]["prefix_cache"] == pytest.approx(float(prefix), rel=1e-9)
    assert (row["saved"]["local_instead_of_fallback"] - base["saved"]["local_instead_of_fallback"]
            == pytest.approx(float(local), rel=1e-9))
    assert prefix > 0 and local > 0


def key_row_or_none(gw, key):
    rows = admin(gw, "/global/spend/keys").json()
    return next((r for r in rows if r["api_key"] == hashed(key)), None)


def test_remote_answer_is_priced_at_its_deployment(gateway):
    h, r = chat(gateway, ALICE, "Say hi.", model="remote-gemma", cache={"no-cache": True, "no-store": True})
    assert h["x-litellm-model-id"] == "remote-gemma"
    assert D(h["x-litellm-response-cost"]) == cost(r["usage"], REMOTE) > 0


def test_exact_and_semantic_hits_cost_nothing_and_save_the_stored_usage(gateway):
    system = "Cache savings test. Answer with one word."
    before = key_row(gateway, BOB) if key_row_or_none(gateway, BOB) else None
    h1, r1 = chat(gateway, BOB, "What colour is the sky on a clear day?", system=system)
    assert h1["x-cache"] == "MISS" and D(h1["x-litellm-response-cost"]) == cost(r1["usage"], LOCAL)
    h2, _ = chat(gateway, BOB, "What colour is the sky on a clear day?", system=system)
    assert h2["x-cache"] == "HIT" and D(h2["x-litellm-response-cost"]) == 0
    h3, _ = chat(gateway, BOB, "What colour is the sky on a clear day ?", system=system)
    assert h3["x-cache"] == "SEMANTIC_HIT" and D(h3["x-litellm-response-cost"]) == 0
    row = key_row(gateway, BOB)
    worth = float(uncached(r1["usage"], LOCAL))   # a hit is worth the stored answer at the group's prices
    base = before["saved"] if before else {"exact_hit": 0, "semantic_hit": 0}
    assert row["saved"]["exact_hit"] - base["exact_hit"] == pytest.approx(worth, rel=1e-9)
    assert row["saved"]["semantic_hit"] - base["semantic_hit"] == pytest.approx(worth, rel=1e-9)
    models = {m["model"]: m for m in admin(gateway, "/global/spend/models").json()}
    assert models["gemma"]["saved"]["exact_hit"] >= worth
    logs = admin(gateway, f"/spend/logs?api_key={hashed(BOB)}").json()
    assert [row["cache_hit"] for row in logs[-3:]] == ["False", "True", "True"]
    assert logs[-1]["metadata"]["cache_layer"] == "semantic" and logs[-1]["spend"] == 0


def test_stream_without_include_usage_is_still_priced(gateway):
    client = gateway.client(api_key=ALICE)
    stream = client.chat.completions.create(
        model="gemma", stream=True, max_tokens=5, temperature=0, extra_body={"cache": {"no-cache": True}},
        messages=[{"role": "user", "content": "Count to three (stream cost test)."}])
    chunks = list(stream)
    assert chunks and all(c.usage is None for c in chunks) and all(c.choices for c in chunks)
    request_id = chunks[0].id
    deadline = time.monotonic() + 10
    while True:   # the spend record is written once the last byte is out
        rows = admin(gateway, f"/spend/logs?request_id={request_id}").json()
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(rows) == 1, "the stream was not recorded"
    row = rows[0]
    assert row["api_key"] == hashed(ALICE) and row["completion_tokens"] >= 1 and row["prompt_tokens"] > 0
    usage = {"prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
             "prompt_tokens_details": {"cached_tokens": row["metadata"]["cached_tokens"]}}
    assert D(str(row["spend"])) == cost(usage, LOCAL)
    # Asked for: the usage chunk is there, as OpenAI sends it.
    with_usage = list(client.chat.completions.create(
        model="gemma", stream=True, max_tokens=5, temperature=0, stream_options={"include_usage": True},
        extra_body={"cache": {"no-cache": True}}, messages=[{"role": "user", "content": "Count to two."}]))
    assert with_usage[-1].usage is not None and with_usage[-1].choices == []


def test_spend_reports_need_the_master_key(gateway):
    for path in ("/global/spend/keys", "/global/spend/models", "/spend/logs"):
        r = admin(gateway, path, key=BOB)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["type"]
    assert admin(gateway, "/global/spend/keys?limit=0").status_code == 400
    assert admin(gateway, "/global/spend/keys?limit=x").status_code == 400
    assert len(admin(gateway, "/global/spend/keys?limit=1").json()) == 1


def test_prometheus_has_spend_and_savings_per_key_and_group(gateway):
    chat(gateway, ALICE, "Name an animal.", cache={"no-cache": True, "no-store": True})
    text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {MASTER}"}, timeout=30).text
    row = key_row(gateway, ALICE)
    line = next(l for l in text.splitlines() if l.startswith("litellm_key_spend_metric_total{")
                and hashed(ALICE) in l)
    assert 'api_key_alias="alice"' in line and float(line.rsplit(" ", 1)[1]) == pytest.approx(row["total_spend"])
    assert any(l.startswith('infer_cost_saved_usd_total{model_group="gemma",layer="prefix_cache"}')
               and float(l.rsplit(" ", 1)[1]) > 0 for l in text.splitlines())
    assert any(l.startswith("infer_key_cost_saved_usd_total{") and hashed(BOB) in l and 'layer="exact_hit"' in l
               for l in text.splitlines())


def test_embeddings_are_priced_and_recorded(gateway):
    raw = gateway.client(api_key=ALICE).embeddings.with_raw_response.create(
        model="minilm", input=["A sentence only the embeddings cost test sends.", "And a second one, equally unique."])
    r = raw.parse()
    assert r.usage.prompt_tokens > 0
    assert D(raw.headers["x-litellm-response-cost"]) == r.usage.prompt_tokens * D("1e-9")
    row = admin(gateway, f"/spend/logs?api_key={hashed(ALICE)}").json()[-1]
    assert row["call_type"] == "aembedding" and row["model_id"] == "minilm-local"
    assert row["prompt_tokens"] == r.usage.prompt_tokens
