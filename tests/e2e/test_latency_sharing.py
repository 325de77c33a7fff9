"""`latency-based-routing` shared through Redis (issue 16): two gateway processes with the same deployments and
one real `redis-server`. Gateway A measures both deployments (a fast and a slow loopback upstream); gateway B,
which never sent a request, routes from its first request to the fast one, because it reads A's samples. On
its own B would first send a request to each unmeasured deployment (unmeasured deployments go first), so the
test fails without the shared samples.
"""
import time

import httpx
import pytest

from support import RecordingUpstream, RedisServer, Server, write_config

SLOW_SECONDS = 0.4


class SlowUpstream(RecordingUpstream):
    def serve(self, conn, body):
        time.sleep(SLOW_SECONDS)
        super().serve(conn, body)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    redis = RedisServer().start()
    fast, slow = RecordingUpstream("fast"), SlowUpstream("slow")
    config = f"""model_list:
  - model_name: gpt-test
    litellm_params: {{model: openai/gpt-test, api_base: "{fast.url}", api_key: unused}}
    model_info: {{id: fast}}
  - model_name: gpt-test
    litellm_params: {{model: openai/gpt-test, api_base: "{slow.url}", api_key: unused}}
    model_info: {{id: slow}}
router_settings: {{routing_strategy: latency-based-routing, num_retries: 0, redis_url: "{redis.url}"}}
"""
    gateways = []
    try:
        for name in ("gw-latency-a", "gw-latency-b"):
            path = write_config(tmp_path_factory.mktemp(name), config)
            gateways.append(Server("--config", str(path), name=name, with_model=False, model_name="gpt-test").start())
        yield redis, gateways, fast, slow
    finally:
        for g in gateways:
            assert g.stop() == 0, g.log_tail()
        fast.close()
        slow.close()
        redis.stop()


def ask(gw):
    r = httpx.post(f"{gw.url}/v1/chat/completions", timeout=60,
                   json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    return r.headers["x-litellm-model-id"]


def test_second_gateway_routes_on_the_first_ones_samples(setup):
    redis, (a, b), fast, slow = setup
    chosen_by_a = [ask(a) for _ in range(4)]
    assert set(chosen_by_a) == {"fast", "slow"}, "A measures both deployments (unmeasured ones go first)"
    # Samples are recorded after the response: wait until both lists are in Redis (bounded).
    deadline = time.monotonic() + 10
    while not all(redis.command("LLEN", f"infer:latency:{d}") not in (":0", "") for d in ("fast", "slow")):
        assert time.monotonic() < deadline, "A's latency samples never reached Redis"
        time.sleep(0.05)
    slow_ms = float(redis.command("LINDEX", "infer:latency:slow", "0"))
    assert slow_ms >= SLOW_SECONDS * 1000
    before = len(slow.received)
    assert [ask(b) for _ in range(6)] == ["fast"] * 6
    assert len(slow.received) == before, "B never tried the slow deployment"
