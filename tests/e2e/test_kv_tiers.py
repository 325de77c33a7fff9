"""KV block tiers (issue 15): a fleet sharing prefixes through a real redis-server, a server restarted on its
disk tier, corrupt entries, tenant isolation across instances, a Redis outage, and the admin/metrics views.
Each server runs with one thread (the two instances share the machine's two cores).
"""
import pathlib
import time

import httpx
import pytest

from support import MODEL, RedisServer, Server, long_prompt, write_config

MASTER = "sk-kv-master"
KEY_A = "sk-kv-tenant-a"
KEY_B = "sk-kv-tenant-b"
PROMPT_TOKENS = 2000


def config_text(redis_url):
    return f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
general_settings:
  master_key: {MASTER}
  kv_redis: {redis_url}
  kv_redis_ttl: 600
keys:
  - {{key: {KEY_A}, alias: tenant-a}}
  - {{key: {KEY_B}, alias: tenant-b}}
"""


@pytest.fixture(scope="module")
def redis():
    r = RedisServer().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def fleet(redis, tmp_path_factory):
    """Two instances of the same model and keys on one Redis tier."""
    config = write_config(tmp_path_factory.mktemp("kv"), config_text(redis.url))
    servers = [Server("--config", str(config), "--threads", "1", name=f"kv-{n}", with_model=False,
                      model_name="gemma").start() for n in ("a", "b")]
    yield servers
    for s in servers:
        assert s.stop() == 0, s.log_tail()


def complete(server, prompt, key, **extra):
    r = httpx.post(f"{server.url}/v1/completions", headers={"authorization": f"Bearer {key}"}, timeout=300,
                   json={"model": "gemma", "prompt": prompt, "max_tokens": 1, "temperature": 0, **extra})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    return usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)


def stats(server):
    r = httpx.get(f"{server.url}/prefix_cache/stats", headers={"authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_written(server, timeout=60):
    """Until the server's tier write queue is empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stats(server)["tiers"]["write_queue"]["pending"] == 0:
            return
        time.sleep(0.1)
    pytest.fail("the tier write queue did not drain")


def test_a_second_instance_reuses_the_first_instances_prefix(fleet):
    a, b = fleet
    prompt = long_prompt(a, 3_000, tokens=PROMPT_TOKENS, api_key=MASTER)
    total, cached = complete(a, prompt, KEY_A)
    assert cached == 0
    wait_written(a)
    assert stats(a)["tiers"]["redis"]["writes"] >= total // 16 - 1
    total_b, cached_b = complete(b, prompt, KEY_A)
    assert total_b == total
    assert cached_b >= 0.9 * total, f"B reused {cached_b} of {total} tokens"
    s = stats(b)
    assert s["tiers"]["redis"]["hit_tokens"] == cached_b
    assert s["hit_rate_by_source"]["redis"] > 0 and s["hit_rate_by_source"]["local"] == 0
    # Loaded blocks are local now: a third request hits B's own pool.
    assert complete(b, prompt, KEY_A)[1] >= cached_b
    assert stats(b)["hit_rate_by_source"]["local"] > 0


def test_another_tenant_or_salt_gets_nothing_from_the_shared_tier(fleet):
    a, b = fleet
    prompt = long_prompt(a, 20_000, tokens=600, api_key=MASTER)
    complete(a, prompt, KEY_A)
    wait_written(a)
    assert complete(b, prompt, KEY_B)[1] == 0, "tenant B must not read tenant A's blocks"
    assert complete(b, prompt, KEY_A, cache_salt="other")[1] == 0, "another cache_salt must not hit"
    assert complete(b, prompt, KEY_A)[1] >= 500


def test_metrics_and_admin_show_the_tiers(fleet):
    a, _ = fleet
    s = stats(a)
    assert s["dtype"] == "f16" and s["schedule_policy"] == "lpm"
    assert set(s["hit_rate_by_source"]) == {"local", "redis"}
    assert isinstance(s["top_prefixes"], list)
    metrics = httpx.get(f"{a.url}/metrics", headers={"authorization": f"Bearer {MASTER}"}, timeout=30).text
    for name in ("infer_kv_tier_writes_total{tier=\"redis\"}", "infer_kv_tier_hits_total{tier=\"redis\"}",
                 "infer_kv_tier_writes_dropped_total", "infer_kv_tier_rejected_total{tier=\"redis\"}"):
        assert name in metrics, name


def test_a_redis_outage_leaves_both_instances_serving(fleet, redis):
    a, b = fleet
    prompt = long_prompt(a, 40_000, tokens=400, api_key=MASTER)
    redis.stop()
    try:
        for server in (a, b):
            total, cached = complete(server, prompt, KEY_A)
            assert total > 300
            assert complete(server, prompt, KEY_A)[1] >= 384, "the local cache keeps working"
        assert stats(a)["tiers"]["redis"]["write_errors"] + stats(a)["tiers"]["redis"]["errors"] > 0
    finally:
        redis.start()


def test_reset_with_tiers_removes_this_models_entries(fleet, redis):
    a, b = fleet
    prompt = long_prompt(a, 60_000, tokens=300, api_key=MASTER)
    complete(a, prompt, KEY_A)
    wait_written(a)
    r = httpx.post(f"{a.url}/prefix_cache/reset", headers={"authorization": f"Bearer {MASTER}"},
                   json={"tiers": True}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["tier_entries_removed"] > 0
    assert complete(b, prompt, KEY_A)[1] == 0, "nothing left in the tier for B"
    r = httpx.post(f"{a.url}/prefix_cache/reset", headers={"authorization": f"Bearer {KEY_A}"},
                   json={"tiers": True}, timeout=60)
    assert r.status_code in (401, 403)


# --- disk tier -------------------------------------------------------------------------------------------

def disk_server(directory, *extra):
    return Server("--kv-disk", str(directory), "--threads", "1", *extra, name="kv-disk").start()


def completion(server, prompt):
    r = httpx.post(f"{server.url}/v1/completions", timeout=300,
                   json={"model": server.model, "prompt": prompt, "max_tokens": 1, "temperature": 0})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    return usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)


def local_stats(server):
    return httpx.get(f"{server.url}/prefix_cache/stats", timeout=30).json()


def test_a_restarted_server_starts_warm_from_its_disk_tier(tmp_path):
    first = disk_server(tmp_path)
    prompt = long_prompt(first, 80_000, tokens=PROMPT_TOKENS)
    total, cached = completion(first, prompt)
    assert cached == 0
    assert first.stop() == 0, first.log_tail()
    assert "KV tiers: blocks written disk" in first.log_tail()
    files = list(tmp_path.rglob("*.kvb"))
    assert len(files) >= total // 16 - 1

    second = disk_server(tmp_path)
    try:
        assert "from earlier runs" in second.log_tail()
        total2, cached2 = completion(second, prompt)
        assert total2 == total and cached2 >= 0.9 * total, f"{cached2} of {total} from disk"
        s = local_stats(second)
        assert s["tiers"]["disk"]["hit_tokens"] == cached2 and s["tiers"]["disk"]["rejected"] == 0
    finally:
        assert second.stop() == 0


def test_corrupt_truncated_and_foreign_disk_entries_are_misses(tmp_path):
    first = disk_server(tmp_path)
    prompt = long_prompt(first, 100_000, tokens=800)
    completion(first, prompt)
    assert first.stop() == 0
    # The same prompt's blocks in f32 (another layout) from a second run, to plant under the f16 names.
    other = disk_server(tmp_path, "--kv-cache-dtype", "f32")
    completion(other, prompt)
    assert other.stop() == 0
    f16 = sorted(p for p in tmp_path.rglob("*.kvb") if "-f16-" in str(p))
    f32 = {p.name: p for p in tmp_path.rglob("*.kvb") if "-f32-" in str(p)}
    assert len(f16) >= 40
    for i, path in enumerate(f16):
        data = bytearray(path.read_bytes())
        if i % 3 == 0:
            data[len(data) // 2] ^= 0x10                      # a flipped bit in the KV
            path.write_bytes(bytes(data))
        elif i % 3 == 1:
            path.write_bytes(bytes(data[: len(data) - 100]))    # truncated
        else:
            path.write_bytes(f32[path.name].read_bytes())      # another layout's entry under this name
    second = disk_server(tmp_path)
    try:
        total, cached = completion(second, prompt)
        assert cached == 0, "no corrupt entry may be used"
        s = local_stats(second)
        assert s["tiers"]["disk"]["rejected"] >= 1 and s["tiers"]["disk"]["hits"] == 0
        # The refused entry was deleted and the recomputed blocks written again: the next start is warm.
        assert completion(second, prompt)[1] >= 768
    finally:
        assert second.stop() == 0
