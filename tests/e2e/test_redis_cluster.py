"""The gateway over a real 3-master Redis Cluster (issue 16): `cache_params.redis_startup_nodes` and
`router_settings.redis_startup_nodes` name one node, the gateway discovers the others.

- exact cache hits whose keys land on every master (each key found on the master `CLUSTER SLOTS` names for its
  `CLUSTER KEYSLOT`, as the real cluster computes them);
- the KV block tier on the cluster (`general_settings.kv_redis_startup_nodes`): a second real instance loads the
  prefix the first one computed, from blocks spread over every master; a bad `--kv-redis-startup-nodes` is
  refused at start;
- a master killed in the middle of a concurrent burst: no request fails (all 200), and afterwards the prompts
  whose keys live on the dead master are served with `x-cache: BYPASS` while the others are still HITs.

The upstream is a loopback OpenAI-compatible recorder, so the test measures the gateway and Redis only.
"""
import concurrent.futures
import pathlib
import shutil
import subprocess
import tempfile
import time

import httpx
import pytest

from support import INFER_BIN, MODEL, RecordingUpstream, Server, free_port, long_prompt, write_config

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def cli(port, *args):
    out = subprocess.run([REDIS_CLI, "-p", str(port), *map(str, args)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


class Cluster:
    """Three `redis-server --cluster-enabled yes` (no persistence) joined by `redis-cli --cluster create`."""

    def __init__(self, masters=3):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="infer-e2e-redis-cluster-"))
        self.ports = [free_port() for _ in range(masters)]
        self.bus = [free_port() for _ in range(masters)]
        self.procs = {}

    def start_node(self, i):
        self.procs[i] = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.ports[i]), "--cluster-port", str(self.bus[i]), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.ports[i]}.conf",
             "--cluster-require-full-coverage", "no", "--cluster-node-timeout", "2000", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = subprocess.run([REDIS_CLI, "-p", str(self.ports[i]), "PING"], capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        pytest.fail(f"cluster node {self.ports[i]} did not start")

    def start(self):
        if REDIS_SERVER is None or REDIS_CLI is None:
            pytest.fail("redis-server / redis-cli not found (scripts/install-deps installs them)")
        for i in range(len(self.ports)):
            self.start_node(i)
        out = subprocess.run([REDIS_CLI, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                              "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in cli(p, "CLUSTER", "INFO") for p in self.ports):
            assert time.monotonic() < deadline, "the cluster never reported cluster_state:ok"
            time.sleep(0.1)
        return self

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait(10)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def master_of(self, key):
        """The index of the master holding `key` (which exists): the slot is the cluster's own `CLUSTER KEYSLOT`."""
        slot = int(cli(self.ports[0], "CLUSTER", "KEYSLOT", key))
        holders = [i for i, port in enumerate(self.ports) if int(cli(port, "CLUSTER", "COUNTKEYSINSLOT", slot)) > 0]
        assert len(holders) == 1, f"{key} (slot {slot}) is on masters {holders}"
        return holders[0]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def upstream():
    u = RecordingUpstream(content="from upstream")
    yield u
    u.close()


@pytest.fixture(scope="module")
def gateway(cluster, upstream, tmp_path_factory):
    node = f"[{{host: 127.0.0.1, port: {cluster.ports[0]}}}]"
    config = f"""model_list:
  - model_name: gpt-test
    litellm_params: {{model: openai/gpt-test, api_base: "{upstream.url}", api_key: unused}}
router_settings: {{num_retries: 0, redis_startup_nodes: {node}}}
litellm_settings:
  cache: true
  cache_params: {{type: redis, namespace: e2e-cluster, redis_startup_nodes: {node}}}
"""
    path = write_config(tmp_path_factory.mktemp("gw-cluster"), config)
    s = Server("--config", str(path), name="gw-cluster", with_model=False, model_name="gpt-test").start()
    yield s
    assert s.stop() == 0, s.log_tail()


def ask(gw, prompt):
    r = httpx.post(f"{gw.url}/v1/chat/completions", timeout=60,
                   json={"model": "gpt-test", "messages": [{"role": "user", "content": prompt}]})
    assert r.status_code == 200, r.text
    return r


def test_cache_hits_land_on_every_master(gateway, cluster, upstream):
    prompts = [f"cluster question {i}" for i in range(48)]
    assert all(ask(gateway, p).headers["x-cache"] == "MISS" for p in prompts)
    sent = len(upstream.received)
    hits = [ask(gateway, p) for p in prompts]
    assert all(r.headers["x-cache"] == "HIT" for r in hits)
    assert len(upstream.received) == sent, "hits never reach the upstream"
    assert all(r.json()["choices"][0]["message"]["content"] == "from upstream" for r in hits)
    masters = [cluster.master_of(r.headers["x-litellm-cache-key"]) for r in hits]
    assert set(masters) == {0, 1, 2}, masters
    sizes = [int(cli(p, "DBSIZE")) for p in cluster.ports]
    assert all(n > 0 for n in sizes) and sum(sizes) >= len(prompts), sizes


def kv_complete(server, prompt):
    r = httpx.post(f"{server.url}/v1/completions", timeout=300,
                   json={"model": "gemma", "prompt": prompt, "max_tokens": 1, "temperature": 0})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    return usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)


def test_kv_tier_on_the_cluster_is_shared_by_two_instances(cluster, tmp_path_factory):
    config = f"""model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
general_settings:
  kv_redis_startup_nodes: [{{host: 127.0.0.1, port: {cluster.ports[1]}}}]
"""
    path = write_config(tmp_path_factory.mktemp("kv-cluster"), config)
    servers = [Server("--config", str(path), "--threads", "1", name=f"kv-cluster-{n}", with_model=False,
                      model_name="gemma").start() for n in ("a", "b")]
    try:
        a, b = servers
        prompt = long_prompt(a, 5_000, tokens=1000)
        total, cached = kv_complete(a, prompt)
        assert cached == 0
        deadline = time.monotonic() + 60
        while httpx.get(f"{a.url}/prefix_cache/stats", timeout=30).json()["tiers"]["write_queue"]["pending"]:
            assert time.monotonic() < deadline, "the tier write queue did not drain"
            time.sleep(0.1)
        blocks = [len(cli(p, "--scan", "--pattern", "infer:kv:*").split()) for p in cluster.ports]
        assert all(n > 0 for n in blocks) and sum(blocks) >= total // 16 - 1, blocks
        total_b, cached_b = kv_complete(b, prompt)
        assert total_b == total and cached_b >= 0.9 * total, f"B reused {cached_b} of {total} tokens"
    finally:
        for s in servers:
            assert s.stop() == 0, s.log_tail()


def test_bad_kv_startup_nodes_are_refused_at_start():
    out = subprocess.run([str(INFER_BIN), "serve", "--model", str(MODEL), "--port", str(free_port()),
                          "--kv-redis-startup-nodes", "127.0.0.1:0"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "--kv-redis-startup-nodes: redis port must be 1-65535, got 0" in out.stderr, out.stderr[-2000:]


def test_master_killed_mid_burst_no_request_fails(gateway, cluster):
    prompts = [f"burst question {i}" for i in range(60)]
    keys = {}
    for p in prompts:
        ask(gateway, p)
        keys[p] = ask(gateway, p).headers["x-litellm-cache-key"]
    where = {p: cluster.master_of(k) for p, k in keys.items()}
    victim = 2
    assert victim in where.values() and len(set(where.values())) == 3

    def burst(ps):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda p: ask(gateway, p), ps))

    first = burst(prompts[:30])
    cluster.kill(victim)
    second = burst(prompts[30:] + prompts[:30])
    for r in first + second:   # ask() asserted 200 for each
        assert r.headers["x-cache"] in {"HIT", "BYPASS"}, r.headers
    # After the kill: the dead master's prompts bypass the cache, every other prompt is still a hit.
    for p in prompts:
        state = ask(gateway, p).headers["x-cache"]
        assert state == ("BYPASS" if where[p] == victim else "HIT"), (p, where[p], state)
