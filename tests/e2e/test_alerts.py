"""Alerts through real servers (issue 21): a gateway whose `flaky` group is a dead loopback port sends its
alerts (`general_settings.alerting: [webhook]`) to a real HTTP listener on loopback; failing requests raise
`deployment_cooled_down` and `error_rate`, each sent once, then a `resolved` message once they clear; a key
spending past its `soft_budget` raises `budget_crossed`. No network beyond 127.0.0.1.
"""

import httpx
import pytest

from support import MODEL, Server, free_port

KEY = "sk-alerts-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def gateway(receiver, tmp_path_factory):
    dead = free_port()   # nothing listens there: every call is refused (two deployments: cooled on failure)
    config = tmp_path_factory.mktemp("alerts") / "config.yaml"
    config.write_text(f"""
model_list:
  - model_name: flaky
    litellm_params: {{model: openai/x, api_base: "http://127.0.0.1:{dead}/v1", api_key: unused, timeout: 5}}
    model_info: {{id: flaky-1}}
  - model_name: flaky
    litellm_params: {{model: openai/y, api_base: "http://127.0.0.1:{dead}/v1", api_key: unused, timeout: 5}}
    model_info: {{id: flaky-2}}
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
    model_info: {{input_cost_per_token: 0.000001, output_cost_per_token: 0.000001}}
router_settings: {{num_retries: 0, allowed_fails: 0, cooldown_time: 2}}
keys:
  - {{key: {KEY}, alias: spender, soft_budget: 0.00001}}
general_settings:
  master_key: sk-alerts-master
  alerting: [webhook]
  alerting_args: {{webhook_url: "{receiver.url}", window: 3, min_requests: 3, evaluation_interval: 0.5,
                  repeat_interval: 3600}}
""")
    s = Server("--config", str(config), name="alerts", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


def test_failing_deployment_alerts_once_then_resolves(gateway, receiver):
    statuses = []
    for _ in range(4):
        r = httpx.post(f"{gateway.url}/v1/chat/completions", timeout=30, headers=AUTH,
                       json={"model": "flaky", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        statuses.append(r.status_code)
    assert all(s >= 500 or s == 429 for s in statuses), statuses
    assert any(s >= 500 for s in statuses), statuses
    seen = receiver.until(lambda b: b["alert"] == "deployment_cooled_down" and b["status"] == "firing")
    cooled = [b for b in seen if b["alert"] == "deployment_cooled_down"][-1]
    assert cooled["subject"] in ("flaky-1", "flaky-2") and cooled["subject"] in cooled["message"]
    seen += receiver.until(lambda b: b["alert"] == "deployment_cooled_down" and b["status"] == "resolved")
    seen += receiver.until(lambda b: b["alert"] == "error_rate" and b["status"] == "resolved")
    errors = [b for b in seen if b["alert"] == "error_rate"]
    # Fired once (de-duplicated while it held), then resolved once.
    assert [b["status"] for b in errors] == ["firing", "resolved"], errors
    assert errors[0]["message"].startswith("Error rate ") and errors[1]["message"].startswith("Resolved: ")
    for subject in ("flaky-1", "flaky-2"):
        per = [b["status"] for b in seen if b["alert"] == "deployment_cooled_down" and b["subject"] == subject]
        assert per in ([], ["firing"], ["firing", "resolved"]), (subject, per)   # never twice
    # A priced answer takes the key past its soft budget (1e-5 USD): one budget_crossed alert, nothing refused.
    ok = httpx.post(f"{gateway.url}/v1/chat/completions", timeout=120, headers=AUTH,
                    json={"model": "gemma", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert ok.status_code == 200 and float(ok.headers["x-litellm-response-cost"]) >= 0.00001
    crossed = receiver.until(lambda b: b["alert"] == "budget_crossed")[-1]
    assert crossed["status"] == "firing" and crossed["subject"] == "spender soft_budget"
    assert "spender spent" in crossed["message"] and KEY not in crossed["message"]
