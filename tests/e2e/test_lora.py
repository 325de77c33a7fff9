"""LoRA adapters served at runtime (vLLM's `--lora-modules` and `/v1/load_lora_adapter`), on the real model with
the test adapter from models/install (models/make-test-lora.py): listed with `parent`, selected by `model`,
batched with base requests, kept apart from the base in the prefix cache, loaded and unloaded over HTTP."""
import concurrent.futures
import os
import shutil

import httpx
import pytest

from support import MODEL, ROOT, Server, long_prompt

LORA = ROOT / "models/gemma-3-270m-test-lora.gguf"
KEY = "lora-master-key"


@pytest.fixture(scope="module")
def lora_server(tmp_path_factory):
    if not LORA.exists():
        pytest.fail(f"adapter not found: {LORA} (run models/install)")
    copy = tmp_path_factory.mktemp("lora") / "same-adapter.gguf"
    shutil.copyfile(LORA, copy)
    server = Server("--api-key", KEY, "--lora-modules", f"tuned={LORA}", f"tuned-copy={copy}",
                    name="lora").start()
    server.copy = copy
    try:
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"lora server did not exit cleanly (status {code}); log tail:\n{server.log_tail()}"


def headers(key=KEY):
    return {"Authorization": f"Bearer {key}"}


def complete(server, model, prompt, max_tokens=24):
    r = httpx.post(f"{server.url}/v1/completions", headers=headers(), timeout=600, json={
        "model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == model, body
    return body["choices"][0]["text"], body["usage"]["prompt_tokens_details"]["cached_tokens"]


PROMPTS = ["The capital of France is", "Once upon a time", "def fibonacci(n):", "The three primary colors are"]


def test_models_lists_adapters_with_parent(lora_server):
    data = httpx.get(f"{lora_server.url}/v1/models", headers=headers(), timeout=30).json()["data"]
    by_id = {m["id"]: m for m in data}
    assert by_id["tuned"]["parent"] == lora_server.model
    assert by_id["tuned-copy"]["parent"] == lora_server.model
    assert "parent" not in by_id[lora_server.model]
    one = httpx.get(f"{lora_server.url}/v1/models/tuned", headers=headers(), timeout=30)
    assert one.status_code == 200 and one.json()["parent"] == lora_server.model


def greedy(server, model, prompt, max_tokens=24):
    """Greedy completion tokens with the five best log-probabilities at every step."""
    r = httpx.post(f"{server.url}/v1/completions", headers=headers(), timeout=600, json={
        "model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "logprobs": 5})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == model
    return r.json()["choices"][0]["logprobs"]


def same_up_to_near_tie(a, b, gap=0.25):
    """Equal token lists, or lists equal up to a step where b's pick is among a's five best tokens within `gap`
    of a's pick in log-probability. The base kernels are not bit-identical between a one-row decode and a
    batched one (measured: log-probabilities move by up to ~0.1 with no adapter at all), so a near-tie may
    flip; an adapter applied to the wrong rows moves them by far more (the adapter changes 3 of 4 answers)."""
    for i, (x, y) in enumerate(zip(a["tokens"], b["tokens"])):
        if x != y:
            top = a["top_logprobs"][i]
            return y in top and top[x] - top[y] <= gap
    return len(a["tokens"]) == len(b["tokens"])


def test_adapter_changes_greedy_output_and_mixed_batches_match_alone(lora_server):
    """Each (model, prompt) alone, then all of them at once (base and adapter rows in the same batches): the
    greedy tokens agree (up to a near-tie, see same_up_to_near_tie), and the adapter's differ from the base's."""
    jobs = [(m, p) for p in PROMPTS for m in (lora_server.model, "tuned")]
    alone = {job: greedy(lora_server, *job) for job in jobs}
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        together = dict(zip(jobs, pool.map(lambda job: greedy(lora_server, *job), jobs)))
    for job in jobs:
        assert same_up_to_near_tie(alone[job], together[job]), (job, alone[job]["tokens"], together[job]["tokens"])
    exact = sum(alone[job]["tokens"] == together[job]["tokens"] for job in jobs)
    assert exact >= len(jobs) - 2, f"only {exact} of {len(jobs)} identical"
    differing = [p for p in PROMPTS if alone[(lora_server.model, p)]["tokens"] != alone[("tuned", p)]["tokens"]]
    assert len(differing) >= 3, "the adapter must change the greedy output"


def test_chat_and_stream_report_the_adapter_name(lora_server):
    r = httpx.post(f"{lora_server.url}/v1/chat/completions", headers=headers(), timeout=300, json={
        "model": "tuned", "max_tokens": 4, "temperature": 0, "stream": True,
        "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 200, r.text
    chunks = [line for line in r.text.splitlines() if line.startswith("data: {")]
    assert chunks and all('"model":"tuned"' in c.replace(" ", "") for c in chunks), chunks[:2]


def test_prefix_cache_is_keyed_by_adapter_content(lora_server):
    """The base's cached prefix is never reused under the adapter and vice versa; two names of one file share."""
    prompt = long_prompt(lora_server, start_char=5_000, tokens=400, api_key=KEY)
    _, first = complete(lora_server, lora_server.model, prompt, max_tokens=1)
    _, again = complete(lora_server, lora_server.model, prompt, max_tokens=1)
    assert again >= 380, "the base hits its own prefix"
    _, tuned = complete(lora_server, "tuned", prompt, max_tokens=1)
    assert tuned == 0, "an adapter request must not reuse the base's KV"
    _, tuned_again = complete(lora_server, "tuned", prompt, max_tokens=1)
    assert tuned_again >= 380, "the adapter hits its own prefix"
    _, copy = complete(lora_server, "tuned-copy", prompt, max_tokens=1)
    assert copy >= 380, "another name for the same file shares the adapter's KV"
    other = long_prompt(lora_server, start_char=9_000, tokens=400, api_key=KEY)
    _, t = complete(lora_server, "tuned", other, max_tokens=1)
    _, b = complete(lora_server, lora_server.model, other, max_tokens=1)
    assert t == 0 and b == 0, "the base must not reuse the adapter's KV either"


def test_load_and_unload_over_http(lora_server):
    url = lora_server.url
    body = {"lora_name": "dynamic", "lora_path": str(LORA)}
    # Authorization: no key 401, a wrong key 401.
    assert httpx.post(f"{url}/v1/load_lora_adapter", json=body, timeout=30).status_code == 401
    assert httpx.post(f"{url}/v1/load_lora_adapter", json=body, headers=headers("wrong"), timeout=30).status_code == 401
    # Bad fields and files: 400 naming the field.
    for bad, param in [({"lora_path": str(LORA)}, "lora_name"), ({"lora_name": "x"}, "lora_path"),
                       ({"lora_name": "x", "lora_path": str(ROOT / "models")}, "lora_path"),
                       ({"lora_name": "x", "lora_path": str(ROOT / "Makefile")}, "lora_path"),
                       ({"lora_name": "x", "lora_path": str(MODEL)}, "lora_path"),
                       ({"lora_name": "tuned", "lora_path": str(LORA)}, "lora_name"),
                       ({"lora_name": lora_server.model, "lora_path": str(LORA)}, "lora_name"),
                       ({"lora_name": 7, "lora_path": str(LORA)}, "lora_name")]:
        r = httpx.post(f"{url}/v1/load_lora_adapter", json=bad, headers=headers(), timeout=60)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["param"] == param, (bad, r.text)
    # Not loaded yet: 404.
    r = httpx.post(f"{url}/v1/completions", headers=headers(), timeout=60,
                   json={"model": "dynamic", "prompt": "Hi", "max_tokens": 1})
    assert r.status_code == 404, r.text
    r = httpx.post(f"{url}/v1/load_lora_adapter", json=body, headers=headers(), timeout=60)
    assert r.status_code == 200 and "dynamic" in r.text, r.text
    assert "dynamic" in [m["id"] for m in httpx.get(f"{url}/v1/models", headers=headers(), timeout=30).json()["data"]]
    text, _ = complete(lora_server, "dynamic", PROMPTS[0])
    assert text == complete(lora_server, "tuned", PROMPTS[0])[0], "the same file under another name answers the same"
    r = httpx.post(f"{url}/v1/unload_lora_adapter", json={"lora_name": "dynamic"}, headers=headers(), timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.post(f"{url}/v1/unload_lora_adapter", json={"lora_name": "dynamic"}, headers=headers(), timeout=30)
    assert r.status_code == 404, r.text
    r = httpx.post(f"{url}/v1/completions", headers=headers(), timeout=60,
                   json={"model": "dynamic", "prompt": "Hi", "max_tokens": 1})
    assert r.status_code == 404, r.text
    assert "dynamic" not in [m["id"] for m in httpx.get(f"{url}/v1/models", headers=headers(), timeout=30).json()["data"]]


def test_unload_drops_the_adapters_prefix_blocks_once_no_name_serves_its_file():
    """Unloading frees the KV blocks computed under the adapter (nothing can hit them again), but only when no
    other loaded name serves the same file; the base's blocks are untouched."""
    server = Server("--api-key", KEY, name="lora-unload").start()
    try:
        url = server.url

        def load(name):
            r = httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(LORA)},
                           headers=headers(), timeout=60)
            assert r.status_code == 200, r.text

        def unload(name):
            r = httpx.post(f"{url}/v1/unload_lora_adapter", json={"lora_name": name}, headers=headers(), timeout=60)
            assert r.status_code == 200, r.text

        def cached_blocks():
            return httpx.get(f"{url}/prefix_cache/stats", headers=headers(), timeout=30).json()["blocks"]["cached"]

        prompt = long_prompt(server, start_char=15_000, tokens=400, api_key=KEY)
        load("dyn")
        load("dyn-alias")
        complete(server, server.model, prompt, max_tokens=1)
        complete(server, "dyn", prompt, max_tokens=1)
        with_both = cached_blocks()
        unload("dyn-alias")   # "dyn" still serves the file: its blocks stay hittable
        assert cached_blocks() == with_both
        assert complete(server, "dyn", prompt, max_tokens=1)[1] >= 380
        unload("dyn")
        after = cached_blocks()
        assert with_both - after >= 400 // 16, (with_both, after)
        assert complete(server, server.model, prompt, max_tokens=1)[1] >= 380, "the base's blocks are kept"
        load("dyn")
        assert complete(server, "dyn", prompt, max_tokens=1)[1] == 0, "the adapter's blocks were dropped"
    finally:
        assert server.stop() == 0, server.log_tail()


def test_virtual_key_cannot_load(tmp_path):
    """A virtual key is never an admin: 403 on the adapter routes (the master key decides, APIKeyStore)."""
    from support import write_config
    config = write_config(tmp_path, f"""
model_list:
  - model_name: gemma
    litellm_params:
      model: local/{MODEL}
      lora:
        tuned: {LORA}
general_settings:
  master_key: {KEY}
keys:
  - key: sk-virtual
    models: [gemma, tuned]
""")
    server = Server("--config", str(config), name="lora-config", with_model=False, model_name="gemma").start()
    try:
        r = httpx.post(f"{server.url}/v1/load_lora_adapter", json={"lora_name": "d", "lora_path": str(LORA)},
                       headers=headers("sk-virtual"), timeout=30)
        assert r.status_code == 403, r.text
        models = httpx.get(f"{server.url}/v1/models", headers=headers("sk-virtual"), timeout=30).json()["data"]
        assert {m["id"]: m.get("parent") for m in models} == {"gemma": None, "tuned": "gemma"}
        r = httpx.post(f"{server.url}/v1/completions", headers=headers("sk-virtual"), timeout=300,
                       json={"model": "tuned", "prompt": PROMPTS[0], "max_tokens": 8, "temperature": 0})
        assert r.status_code == 200 and r.json()["model"] == "tuned", r.text
    finally:
        assert server.stop() == 0, server.log_tail()
