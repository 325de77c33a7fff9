"""Budgets with LiteLLM's semantics through real servers (issue 21): per key `max_budget`,
`budget_duration`, `soft_budget`; spend in a real `redis-server` shared by two gateway instances; a key over
budget gets LiteLLM's `budget_exceeded` error while other keys pass; `GET /key/info` for the key itself or the
master key; `GET /spend/logs` for the master key only. Driven with the official `openai` client.
"""
import hashlib
import time
from decimal import Decimal as D

import httpx
import openai
import pytest

from support import MODEL, RedisServer, Server

MASTER = "sk-master-budget"
SMALL, BIG = "sk-small-budget", "sk-big-budget"
PRICE_IN, PRICE_OUT = D("0.00001"), D("0.00002")


def hashed(key):
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def redis():
    r = RedisServer().start()
    yield r
    r.stop()


def _gateway(redis, config_dir, name):
    config = config_dir / f"{name}.yaml"
    config.write_text(f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
    model_info: {{input_cost_per_token: 0.00001, output_cost_per_token: 0.00002}}
router_settings:
  redis_url: "{redis.url}"
general_settings:
  master_key: {MASTER}
keys:
  - {{key: {SMALL}, alias: small, max_budget: 0.0005, soft_budget: 0.0001, budget_duration: 30d}}
  - {{key: {BIG}, alias: big, max_budget: 100}}
""")
    return Server("--config", str(config), name=name, with_model=False, model_name="gemma").start()


@pytest.fixture(scope="module")
def gateways(redis, tmp_path_factory):
    d = tmp_path_factory.mktemp("budget")
    a = _gateway(redis, d, "budget-a")
    b = _gateway(redis, d, "budget-b")
    yield a, b
    assert a.stop() == 0
    assert b.stop() == 0


def ask(gw, key, text="Say one word."):
    return gw.client(api_key=key).chat.completions.with_raw_response.create(
        model="gemma", messages=[{"role": "user", "content": text}], max_tokens=3, temperature=0)


def key_info(gw, key, as_key=None):
    params = {} if as_key is None else {"key": as_key}
    return httpx.get(f"{gw.url}/key/info", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_a_key_over_budget_is_refused_on_every_instance_while_others_pass(gateways):
    a, b = gateways
    spent = D(0)
    # Each answer costs ~200 tokens * 1e-5 USD; 0.0005 USD is reached within a few requests on instance a.
    for i in range(20):
        try:
            raw = ask(a, SMALL, f"Say one word, number {i}.")
        except openai.APIStatusError as e:
            refusal = e
            break
        spent += D(raw.headers["x-litellm-response-cost"])
    else:
        pytest.fail("the small key was never refused")
    assert spent >= D("0.0005")
    assert refusal.status_code == 422
    body = refusal.response.json()["error"]
    assert body["type"] == "budget_exceeded" and body["param"] is None and body["code"] == "422"
    assert body["message"] == f"Budget has been exceeded! Key=small Current cost: {spent.normalize():f}, Max budget: 0.0005"
    # Instance b shares the spend through Redis: refused there too, without having served this key.
    with pytest.raises(openai.APIStatusError) as on_b:
        ask(b, SMALL)
    assert on_b.value.status_code == 422
    # Another key passes on both.
    assert ask(a, BIG).parse().choices and ask(b, BIG).parse().choices
    info = key_info(b, SMALL).json()
    assert info["key"] == hashed(SMALL)
    i = info["info"]
    assert i["key_alias"] == "small" and i["max_budget"] == 0.0005 and i["soft_budget"] == 0.0001
    assert i["budget_duration"] == "30d" and i["budget_reset_at"]
    assert D(str(i["spend"])) == spent


def test_key_info_is_the_keys_own_or_the_masters(gateways):
    a, _ = gateways
    assert key_info(a, BIG).json()["info"]["key_alias"] == "big"
    assert key_info(a, BIG, as_key=BIG).status_code == 200
    forbidden = key_info(a, BIG, as_key=SMALL)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["type"]
    assert key_info(a, MASTER, as_key=SMALL).json()["info"]["key_alias"] == "small"
    assert key_info(a, MASTER, as_key=hashed(SMALL)).json()["info"]["key_alias"] == "small"
    assert key_info(a, MASTER, as_key="sk-nope").status_code == 404
    assert key_info(a, MASTER).status_code == 400   # the master key is not a virtual key: name one


def test_spend_logs_are_litellm_shaped_and_master_only(gateways):
    a, _ = gateways
    rows = httpx.get(f"{a.url}/spend/logs", params={"api_key": hashed(BIG)},
                     headers={"Authorization": f"Bearer {MASTER}"}, timeout=30).json()
    assert rows and all(r["api_key"] == hashed(BIG) for r in rows)
    r = rows[-1]
    for field in ("request_id", "call_type", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
                  "startTime", "endTime", "model", "model_group", "cache_hit"):
        assert field in r
    assert D(str(r["spend"])) == r["prompt_tokens"] * PRICE_IN + r["completion_tokens"] * PRICE_OUT
    assert httpx.get(f"{a.url}/spend/logs", headers={"Authorization": f"Bearer {BIG}"}, timeout=30).status_code == 403


def test_a_stream_the_client_abandons_is_charged_what_it_delivered(gateways):
    """Closing a stream before its end must not make it free (a budget bypass): the tokens delivered are
    charged to the key, estimated with the model's tokenizer since the usage chunk never came."""
    a, _ = gateways
    before = D(str(key_info(a, BIG).json()["info"]["spend"]))
    body = {"model": "gemma", "stream": True, "max_tokens": 2000, "ignore_eos": True, "temperature": 0,
            "messages": [{"role": "user", "content": "Count slowly from one to a thousand."}]}
    with httpx.stream("POST", f"{a.url}/v1/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {BIG}"}) as r:
        assert r.status_code == 200
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data: {"):
                seen += 1
                if seen == 20:
                    break
    # The server notices on its next writes and charges from a task of its own.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        spent = D(str(key_info(a, BIG).json()["info"]["spend"])) - before
        if spent > 0:
            break
        time.sleep(0.2)
    assert spent > 0, "an abandoned stream was not charged"
    rows = httpx.get(f"{a.url}/spend/logs", params={"api_key": hashed(BIG)},
                     headers={"Authorization": f"Bearer {MASTER}"}, timeout=30).json()
    last = rows[-1]
    assert last["prompt_tokens"] > 0
    assert 20 <= last["completion_tokens"] < 2000, last
    assert D(str(last["spend"])) == spent


def test_spend_logs_are_shared_through_redis(gateways):
    """Every instance reports every instance's spend log when spend is kept in Redis (like LiteLLM's
    Postgres-backed SpendLogs): a request answered by instance b is in instance a's /spend/logs."""
    a, b = gateways
    answer = ask(b, BIG, "Name a fruit.").parse()
    rows = httpx.get(f"{a.url}/spend/logs", params={"request_id": answer.id},
                     headers={"Authorization": f"Bearer {MASTER}"}, timeout=30).json()
    assert len(rows) == 1, rows
    assert rows[0]["api_key"] == hashed(BIG) and rows[0]["completion_tokens"] == answer.usage.completion_tokens
    # Filtering by key works on the shared log too, and every row is that key's.
    rows = httpx.get(f"{a.url}/spend/logs", params={"api_key": hashed(BIG)},
                     headers={"Authorization": f"Bearer {MASTER}"}, timeout=30).json()
    assert answer.id in [r["request_id"] for r in rows] and all(r["api_key"] == hashed(BIG) for r in rows)
