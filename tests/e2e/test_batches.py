"""The Batch API through the official `openai` SDK: files.create, batches.create / retrieve / list / cancel,
files.content. Requests run on the local engine below interactive traffic, ordered so that requests sharing
a prefix run back to back (each shared prefix is prefilled once), and state lives in `--batch-dir`, so a
server killed mid-batch resumes it on the next start.
"""
import json
import re
import time

import httpx
import openai
import pytest

from support import Server, long_prompt

PREFIXES = 4
PER_PREFIX = 50
BLOCK = 16


def metric(server, name):
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    m = re.search(r"^" + re.escape(name) + r"(?:\{\})? ([0-9.eE+-]+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def wait_for(client, batch_id, done, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if done(batch):
            return batch
        time.sleep(0.2)
    pytest.fail(f"batch {batch_id} did not reach the expected state in {timeout} s: {batch}")


def jsonl(lines):
    return ("\n".join(json.dumps(line) for line in lines) + "\n").encode()


def request(custom_id, model, system, user, max_tokens=4):
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "max_tokens": max_tokens, "temperature": 0,
                     "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}}


def results(client, file_id):
    text = client.files.content(file_id).text
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_batch_of_200_over_4_prefixes_prefills_each_prefix_once(tmp_path):
    server = Server("--batch-dir", str(tmp_path / "batches"), "--batch-concurrency", "4", name="batches").start()
    try:
        client = server.client()
        systems = [long_prompt(server, 20_000 + 40_000 * i, tokens=300) for i in range(PREFIXES)]
        # Interleaved in the file (prefix 0, 1, 2, 3, 0, 1, ...): run in file order, a small cache would hold
        # four prefixes at once; the runner's ordering puts each prefix's requests back to back.
        lines = [request(f"req-{i}", server.model, systems[i % PREFIXES], f"Question {i // PREFIXES}: name one colour.")
                 for i in range(PREFIXES * PER_PREFIX)]
        uploaded = client.files.create(file=("batch.jsonl", jsonl(lines)), purpose="batch")
        assert uploaded.purpose == "batch" and uploaded.bytes > 0

        prefilled_before = metric(server, "infer_engine_prefill_tokens_total")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h", metadata={"suite": "e2e"})
        assert batch.status in ("validating", "in_progress")
        assert batch.metadata == {"suite": "e2e"}
        # Interactive traffic meanwhile is served (the batch runs below it).
        live = client.chat.completions.create(model=server.model, max_tokens=4, temperature=0,
                                              messages=[{"role": "user", "content": "Say hello."}])
        assert live.choices[0].message.content
        done = wait_for(client, batch.id, lambda b: b.status in ("completed", "failed", "cancelled", "expired"))
        prefilled = metric(server, "infer_engine_prefill_tokens_total") - prefilled_before
        assert done.status == "completed", done
        assert done.request_counts.total == 200 and done.request_counts.completed == 200
        assert done.request_counts.failed == 0 and done.error_file_id is None
        assert [b.id for b in client.batches.list(limit=10).data] == [batch.id]

        out = results(client, done.output_file_id)
        assert [r["custom_id"] for r in out] == [line["custom_id"] for line in lines]
        usage = [r["response"]["body"]["usage"] for r in out]
        assert all(r["response"]["status_code"] == 200 for r in out)
        prompt = [u["prompt_tokens"] for u in usage]
        cached = [u["prompt_tokens_details"]["cached_tokens"] for u in usage]
        computed = sum(p - c for p, c in zip(prompt, cached))
        # Each prefix was computed by exactly one request; all 49 others found it cached.
        for g in range(PREFIXES):
            group = [i for i in range(len(lines)) if i % PREFIXES == g]
            cold = [i for i in group if cached[i] < min(prompt[j] for j in group) // 2]
            assert len(cold) == 1, f"prefix {g}: {len(cold)} requests computed it ({[cached[i] for i in group]})"
        # Engine-side: the prompt work is each prefix once plus every request's own suffix (a few blocks),
        # nowhere near the 200 full prompts of running without sharing.
        shared = min(prompt) - 48
        suffix_bound = max(p - shared for p in prompt) + BLOCK
        print(f"prefill tokens: engine {prefilled:.0f}, from usage {computed}, without sharing {sum(prompt)}")
        assert prefilled <= PREFIXES * max(prompt) + len(lines) * suffix_bound + 64, (prefilled, computed)
        assert computed <= PREFIXES * max(prompt) + len(lines) * suffix_bound
        assert prefilled < sum(prompt) / 5

        # A batch answer is the answer the interactive API gives (greedy).
        direct = client.chat.completions.create(**{k: v for k, v in lines[5]["body"].items()})
        assert direct.choices[0].message.content == out[5]["response"]["body"]["choices"][0]["message"]["content"]
    finally:
        assert server.stop() == 0, server.log_tail()


def test_killed_mid_batch_resumes_on_restart(tmp_path):
    batch_dir = str(tmp_path / "batches")
    args = ("--batch-dir", batch_dir, "--batch-concurrency", "1")
    server = Server(*args, name="batch-crash").start()
    lines = [request(f"r{i}", server.model, "You are a careful assistant.", f"Count from {i} to {i + 20}.",
                     max_tokens=32) for i in range(40)]
    try:
        client = server.client()
        uploaded = client.files.create(file=("crash.jsonl", jsonl(lines)), purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        partial = wait_for(client, batch.id, lambda b: b.request_counts.completed >= 5, timeout=300)
        assert partial.status == "in_progress"
    finally:
        server.kill()   # SIGKILL: no graceful shutdown, as in a crash
    done_before = partial.request_counts.completed

    restarted = Server(*args, name="batch-restart").start()
    try:
        client = restarted.client()
        assert "resuming 1 unfinished batch" in restarted.log_tail(200)
        done = wait_for(client, batch.id, lambda b: b.status in ("completed", "failed", "cancelled", "expired"))
        assert done.status == "completed", done
        assert done.request_counts.total == 40 and done.request_counts.completed == 40
        out = results(client, done.output_file_id)
        # Every request exactly once, whichever server ran it.
        assert sorted(r["custom_id"] for r in out) == sorted(line["custom_id"] for line in lines)
        log = restarted.log_path.read_text()
        m = re.search(r"(\d+) of 40 requests already done, (\d+) to run", log)
        assert m, log[-2000:]
        assert int(m.group(1)) >= done_before and int(m.group(1)) + int(m.group(2)) == 40
        # The files uploaded before the crash are still there.
        assert client.files.retrieve(uploaded.id).filename == "crash.jsonl"
    finally:
        assert restarted.stop() == 0, restarted.log_tail()


def test_cancel_and_ownership_over_the_sdk(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("general_settings:\n  master_key: sk-master\n"
                      "keys:\n  - key: sk-alice\n  - key: sk-bob\n"
                      f"model_list:\n  - model_name: gemma\n    litellm_params:\n      model: local/MODEL\n")
    from support import MODEL
    config.write_text(config.read_text().replace("MODEL", str(MODEL)))
    server = Server("--config", str(config), "--batch-dir", str(tmp_path / "b"), "--batch-concurrency", "1",
                    name="batch-cancel", with_model=False, model_name="gemma").start()
    try:
        alice, bob = server.client(api_key="sk-alice"), server.client(api_key="sk-bob")
        lines = [request(f"c{i}", "gemma", "Be brief.", f"Write a sentence about {i}.", max_tokens=48)
                 for i in range(30)]
        uploaded = alice.files.create(file=("c.jsonl", jsonl(lines)), purpose="batch")
        batch = alice.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
        with pytest.raises(openai.NotFoundError):
            bob.batches.retrieve(batch.id)
        with pytest.raises(openai.NotFoundError):
            bob.files.content(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            bob.batches.cancel(batch.id)
        assert bob.batches.list().data == []
        wait_for(alice, batch.id, lambda b: b.request_counts.completed >= 1, timeout=300)
        cancelling = alice.batches.cancel(batch.id)
        assert cancelling.status in ("cancelling", "cancelled")
        done = wait_for(alice, batch.id, lambda b: b.status == "cancelled", timeout=120)
        assert 1 <= done.request_counts.completed < 30
        out = results(alice, done.output_file_id)
        assert len(out) == done.request_counts.completed
        with pytest.raises(openai.ConflictError):
            alice.batches.cancel(batch.id)
        # The master key sees every key's batches.
        master = server.client(api_key="sk-master")
        assert master.batches.retrieve(batch.id).status == "cancelled"
    finally:
        assert server.stop() == 0, server.log_tail()
