#!/usr/bin/env python3
"""Load / soak test of `infer serve`: N concurrent streaming clients for T minutes with a mixed workload.

Starts `infer serve` on a free port with the real model and a response cache (`--cache local`: in-process memory;
`--cache redis`: against a redis-server started here on a free port, no persistence). After a warm-up (one
request of each kind) and once the engine is idle, it measures the idle baseline of `infer_kv_blocks{state="used"}`
and the RSS, then runs `--clients` asyncio clients (httpx, one connection each, all streaming
/v1/chat/completions with `stream_options.include_usage`, greedy, `ignore_eos`) for `--minutes`. Each client
loops: draws a kind with the `--mix` proportions, sends it, records the result:

- exact:  one of 8 fixed requests, over and over: response-cache hits (x-cache HIT, replayed as SSE) once stored;
- prefix: a shared ~1k-token system prompt (license text) + a unique user question: a response-cache miss whose
          prompt mostly comes from the prefix KV cache (usage.prompt_tokens_details.cached_tokens);
- miss:   a unique short prompt: misses both caches;
- cancel: a unique request (half of them on the shared system prompt) with 4x the tokens, dropped by the client
          (connection closed) after `--cancel-after` content chunks: the server must stop and free its blocks.

Per request: kind, HTTP status, x-cache, error (any non-200, a stream without [DONE] or with an error event,
an exception; not the intentional cancellations), TTFT (first non-empty content delta), total latency, tokens.
Every second a sampler reads the server's VmRSS (/proc/<pid>/status) and GET /metrics (infer_kv_blocks
used/cached/free/total, running, queued). At the end the clients stop starting requests, the in-flight ones
finish (at most `--drain-seconds`, then they are cut), the script waits for the engine to be idle and checks that
KV blocks in use are back at the baseline (PASS/FAIL; cached blocks may remain: that is the prefix cache). The
server's log is scanned for warnings and errors, and its final /metrics kept. RSS growth is compared with the size
of the KV pool (read from the GGUF): the pool's pages are touched on first use, growth beyond it is suspicious.

Writes bench/results/load-<date>.json (summary, every sample and request), load-<date>.md (the table) and
load-<date>-rss.png (RSS and KV blocks over time). Exits 1 when a request failed, KV blocks in use did not return
to the baseline, or the server died. Machines are shared and noisy: the clients and the server share the cores.

Usage: bench/load/run [--clients 64] [--minutes 10] [--max-tokens 32] [--mix exact=30,prefix=30,miss=25,cancel=15]
                      [--cache local|redis] [--cancel-after 4] [--kv-cache-tokens N] [--max-running 16] [--seed 1]
"""
import argparse, asyncio, datetime, json, os, pathlib, platform, random, re, shutil, signal, socket, \
    subprocess, sys, time

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
CACHE = pathlib.Path(os.environ.get("INFER_BENCH_CACHE", pathlib.Path.home() / ".cache" / "infer-bench"))
LICENSES = pathlib.Path("/usr/share/common-licenses")
KINDS = ("exact", "prefix", "miss", "cancel")
SHORT_SYSTEM = "You are a concise assistant."
EXACT_QUESTIONS = [
    "What is the capital of France?", "Name three primary colours.", "What is 12 times 12?",
    "Who wrote Hamlet?", "What does CPU stand for?", "How many days are in a leap year?",
    "What is the boiling point of water in Celsius?", "Translate 'thank you' into Spanish.",
]
TOPICS = ["distribution", "source code", "patents", "warranty", "modification", "linking", "termination",
          "object code", "installation information", "attribution", "sublicensing", "trademarks", "liability",
          "compatibility", "conveying copies", "additional permissions", "network use", "user products"]
WORDS = ["river", "lantern", "orbit", "granite", "violin", "harbor", "meadow", "circuit", "saffron", "glacier",
         "compass", "ember", "falcon", "quartz", "tundra", "walnut", "beacon", "cobalt", "dune", "prism"]
PROCS = []  # every child started here, stopped on exit


def log(msg):
    print(f"[bench/load] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, p):  # as bench/server and bench/cache compute percentiles
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else None


def rss_mib(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------------------------- processes

def stop(proc, timeout=30):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in PROCS:
        PROCS.remove(proc)


def wait_http(proc, port, path, name, log_path, seconds):
    import httpx
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not ready after {seconds} s; see {log_path}")


class Redis:
    """A throwaway redis-server: free port, no RDB/AOF persistence."""

    def __enter__(self):
        self.port = free_port()
        self.log_path = CACHE / "load-bench-redis.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server not ready after 30 s")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def __exit__(self, *exc):
        stop(self.proc)
        self.log_file.close()


class Server:
    def __init__(self, a, extra):
        self.a, self.extra = a, extra
        self.log_path = CACHE / "load-bench-server.log"

    def __enter__(self):
        CACHE.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        a = self.a
        self.cmd = [a.infer_bin, "serve", "--model", a.model, "--host", "127.0.0.1", "--port", str(self.port),
                    "--threads", str(a.threads), "--max-running", str(a.max_running),
                    "--max-queued", str(a.max_queued), "--kv-cache-tokens", str(a.kv_cache_tokens)] + self.extra
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        wait_http(self.proc, self.port, "/health", "server", self.log_path, 300)
        return self

    def __exit__(self, *exc):
        stop(self.proc, 60)
        self.log_file.close()


def gguf_metadata(path, wanted):
    """The scalar metadata values named in `wanted` from a GGUF file's header (arrays are skipped)."""
    import struct
    scalars = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    out = {}
    with open(path, "rb") as f:
        rd = lambda fmt: struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
        string = lambda: f.read(rd("<Q")).decode(errors="replace")

        def value(t):
            if t in scalars:
                return rd(scalars[t])
            if t == 8:
                return string()
            if t == 9:
                et, n = rd("<I"), rd("<Q")
                if et in scalars:
                    f.seek(n * struct.calcsize(scalars[et]), 1)
                else:
                    for _ in range(n):
                        value(et)
                return None
            raise ValueError(f"GGUF value type {t}")

        if f.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        rd("<I"), rd("<Q")
        for _ in range(rd("<Q")):
            key = string()
            v = value(rd("<I"))
            if key in wanted:
                out[key] = v
    return out


def kv_block_kib(model, block_size=16):
    """Bytes of one KV block of the server's pool (f32 K and V, every layer), from the model's metadata."""
    try:
        arch = gguf_metadata(model, {"general.architecture"})["general.architecture"]
        keys = [f"{arch}.{k}" for k in ("block_count", "embedding_length", "attention.head_count",
                                          "attention.head_count_kv", "attention.key_length")]
        m = gguf_metadata(model, set(keys))
        layers, emb, heads = m[keys[0]], m[keys[1]], m[keys[2]]
        kv_dim = m.get(keys[3], heads) * m.get(keys[4], emb // heads)
        return layers * block_size * kv_dim * 2 * 4 / 1024
    except (OSError, KeyError, ValueError, ZeroDivisionError) as e:
        log(f"cannot read the KV geometry from {model}: {e}")
        return None


# ---------------------------------------------------------------------------------------------- workload

def long_system_prompt(chars):
    """The shared system prompt of `prefix` (and half the `cancel`) requests: license text, ~1k tokens."""
    text = ""
    if LICENSES.is_dir():
        for path in sorted(LICENSES.iterdir()):
            if not path.is_symlink() and path.is_file():
                text += path.read_text(errors="replace") + "\n\n"
            if len(text) >= chars:
                break
    if len(text) < chars:  # no license texts: a deterministic filler
        rng = random.Random(7)
        text += " ".join(rng.choice(WORDS) for _ in range(chars // 5))
    return ("You answer questions about the following license text.\n\n" + text[:chars]).strip()


class Workload:
    def __init__(self, a, model):
        self.a, self.model = a, model
        self.system = long_system_prompt(a.system_chars)
        self.serial = 0
        self.nonce = f"{os.getpid():x}{int(time.time()):x}"  # unique across runs against a persistent Redis

    def body(self, system, user, max_tokens):
        return {"model": self.model, "messages": [{"role": "system", "content": system},
                                                  {"role": "user", "content": user}],
                "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": True,
                "stream_options": {"include_usage": True}}

    def unique(self):
        self.serial += 1
        return f"{self.nonce}-{self.serial}"

    def request(self, kind, rng):
        """(body, cancel_after or None) for one request of `kind`."""
        a = self.a
        if kind == "exact":
            return self.body(SHORT_SYSTEM, rng.choice(EXACT_QUESTIONS), a.max_tokens), None
        if kind == "prefix":
            q = f"Question {self.unique()}: in one sentence, what does the license say about {rng.choice(TOPICS)}?"
            return self.body(self.system, q, a.max_tokens), None
        if kind == "miss":
            u = (f"Note {self.unique()}: write a few lines about a {rng.choice(WORDS)}, a {rng.choice(WORDS)} "
                 f"and a {rng.choice(WORDS)}.")
            return self.body(SHORT_SYSTEM, u, a.max_tokens), None
        # cancel: a unique request with more tokens, half on the shared system prompt (shared prefix blocks)
        system = self.system if rng.random() < 0.5 else SHORT_SYSTEM
        u = f"Story {self.unique()}: tell a long story about {rng.choice(TOPICS)} and a {rng.choice(WORDS)}."
        return self.body(system, u, a.max_tokens * 4), a.cancel_after


async def stream_request(client, body, cancel_after):
    """One streaming chat completion; returns its record (times in seconds since send)."""
    r = {"status": None, "x_cache": None, "error": None, "ttft": None, "latency": None, "tokens": 0,
         "prompt_tokens": None, "cached_tokens": None, "chunks": 0, "done": False, "cancelled": False}
    start = time.perf_counter()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
            r["status"] = resp.status_code
            r["x_cache"] = resp.headers.get("x-cache")
            if resp.status_code != 200:
                text = (await resp.aread())[:300].decode(errors="replace")
                r["error"] = f"HTTP {resp.status_code}: {text}"
                return r
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    r["done"] = True
                    break
                obj = json.loads(payload)
                if "error" in obj:
                    r["error"] = f"error event: {json.dumps(obj['error'])[:300]}"
                    continue
                for ch in obj.get("choices") or []:
                    content = (ch.get("delta") or {}).get("content")
                    if content:
                        r["chunks"] += 1
                        if r["ttft"] is None:
                            r["ttft"] = time.perf_counter() - start
                if obj.get("usage"):
                    u = obj["usage"]
                    r["tokens"] = u.get("completion_tokens") or 0
                    r["prompt_tokens"] = u.get("prompt_tokens")
                    r["cached_tokens"] = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
                if cancel_after is not None and r["chunks"] >= cancel_after:
                    r["cancelled"] = True  # leaving the block closes the connection mid-stream
                    break
        if not r["done"] and not r["cancelled"] and r["error"] is None:
            r["error"] = "stream ended without [DONE]"
    except asyncio.CancelledError:
        raise
    except Exception as e:  # connection reset, timeout, bad JSON...
        r["error"] = f"{type(e).__name__}: {e}"[:300]
    finally:
        r["latency"] = time.perf_counter() - start
    if not r["tokens"]:
        r["tokens"] = r["chunks"]
    return r


# ---------------------------------------------------------------------------------------------- metrics

METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def parse_metrics(text):
    """{'name' or 'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def kv(m, state):
    return m.get(f'infer_kv_blocks{{state="{state}"}}')


class Sampler:
    """Every `period` seconds: RSS of the server, KV block gauges, running/queued, client requests in flight."""

    def __init__(self, client, pid, t0, period=1.0):
        self.client, self.pid, self.t0, self.period = client, pid, t0, period
        self.samples, self.in_flight, self.phase, self.metric_errors = [], 0, "warm-up", 0

    async def sample(self):
        s = {"t": time.monotonic() - self.t0, "phase": self.phase, "rss_mib": rss_mib(self.pid),
             "in_flight": self.in_flight}
        try:
            resp = await self.client.get("/metrics", timeout=10)
            m = parse_metrics(resp.text)
            s.update(used=kv(m, "used"), cached=kv(m, "cached"), free=kv(m, "free"), total=kv(m, "total"),
                     running=m.get("infer_running_sequences"), queued=m.get("infer_queue_depth"),
                     router_in_flight=sum(v for k, v in m.items() if k.startswith("litellm_deployment_in_flight")))
        except Exception as e:
            self.metric_errors += 1
            s["metrics_error"] = f"{type(e).__name__}: {e}"[:200]
        self.samples.append(s)
        return s

    async def run(self):
        nxt = time.monotonic()
        while True:
            await self.sample()
            nxt += self.period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))


async def wait_idle(sampler, baseline, timeout):
    """Polls /metrics until nothing runs or waits and KV used is at `baseline` (or `timeout`); the last sample."""
    deadline = time.monotonic() + timeout
    s = None
    while time.monotonic() < deadline:
        s = await sampler.sample()
        idle = s.get("running") == 0 and s.get("queued") == 0
        if idle and (baseline is None or s.get("used") == baseline):
            # settled: the same value twice, one second apart
            await asyncio.sleep(1)
            s2 = await sampler.sample()
            if s2.get("used") == s.get("used") and s2.get("running") == 0:
                return s2
        await asyncio.sleep(0.5)
    return s


# ---------------------------------------------------------------------------------------------- the run

async def load(a, server, model):
    import httpx
    base = f"http://127.0.0.1:{server.port}"
    t0 = time.monotonic()
    timeout = httpx.Timeout(a.request_timeout, connect=10)
    limits = httpx.Limits(max_connections=a.clients + 4, max_keepalive_connections=a.clients + 4)
    work = Workload(a, model)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client, \
            httpx.AsyncClient(base_url=base, timeout=10) as mclient:
        sampler = Sampler(mclient, server.proc.pid, t0)
        sampler_task = asyncio.create_task(sampler.run())

        # Warm-up: one request of each kind (so the engine has published its gauges and the exact answers exist),
        # then the idle baseline.
        rng = random.Random(a.seed)
        for kind in KINDS:
            body, cancel_after = work.request(kind, rng)
            r = await stream_request(client, body, cancel_after)
            if r["error"]:
                raise RuntimeError(f"warm-up {kind} request failed: {r['error']}")
        for q in EXACT_QUESTIONS:  # store every exact answer once, so that `exact` measures hits
            r = await stream_request(client, work.body(SHORT_SYSTEM, q, a.max_tokens), None)
            if r["error"]:
                raise RuntimeError(f"warm-up exact request failed: {r['error']}")
        idle = await wait_idle(sampler, None, 60)
        baseline = {"used": idle.get("used"), "cached": idle.get("cached"), "free": idle.get("free"),
                    "total": idle.get("total"), "rss_mib": rss_mib(server.proc.pid), "t": idle["t"]}
        metrics_before = parse_metrics((await mclient.get("/metrics")).text)
        log(f"idle baseline: KV used {baseline['used']:.0f}, cached {baseline['cached']:.0f}, "
            f"total {baseline['total']:.0f} blocks; RSS {baseline['rss_mib']:.0f} MiB")

        # Load.
        records = []
        weights = [a.mix[k] for k in KINDS]
        stop_at = time.monotonic() + a.seconds
        load_start = time.monotonic() - t0
        sampler.phase = "load"

        async def client_loop(i):
            crng = random.Random(a.seed * 1000 + i)
            await asyncio.sleep(a.ramp_seconds * i / a.clients)  # not all connections in the same millisecond
            while time.monotonic() < stop_at:
                kind = crng.choices(KINDS, weights)[0]
                body, cancel_after = work.request(kind, crng)
                rec = {"client": i, "kind": kind, "t": time.monotonic() - t0, "cut": False}
                records.append(rec)
                sampler.in_flight += 1
                try:
                    rec.update(await stream_request(client, body, cancel_after))
                except asyncio.CancelledError:
                    rec.update(cut=True)  # still running when the drain time ran out
                    raise
                finally:
                    sampler.in_flight -= 1

        tasks = [asyncio.create_task(client_loop(i)) for i in range(a.clients)]
        last = time.monotonic()
        while time.monotonic() < stop_at and server.proc.poll() is None:
            await asyncio.sleep(1)
            if time.monotonic() - last >= a.progress:
                last = time.monotonic()
                s = sampler.samples[-1] if sampler.samples else {}
                done = [r for r in records if "status" in r]
                errs = sum(1 for r in done if r.get("error"))
                log(f"{time.monotonic() - t0 - load_start:5.0f} s: {len(done)} requests, {errs} errors, "
                    f"in flight {sampler.in_flight}, KV used {s.get('used')}, cached {s.get('cached')}, "
                    f"RSS {s.get('rss_mib') or 0:.0f} MiB")
        if server.proc.poll() is not None:
            log(f"SERVER DIED with {server.proc.returncode}")
        load_end = time.monotonic() - t0
        sampler.phase = "drain"
        log(f"stopping the clients: waiting up to {a.drain_seconds} s for {sampler.in_flight} requests in flight")
        _, pending = await asyncio.wait(tasks, timeout=a.drain_seconds)
        for t in pending:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        drain_end = time.monotonic() - t0
        sampler.phase = "idle"
        end = await wait_idle(sampler, baseline["used"], a.idle_timeout) if server.proc.poll() is None else None
        await asyncio.sleep(2)  # a few idle samples for the plot
        sampler_task.cancel()
        await asyncio.gather(sampler_task, return_exceptions=True)
        metrics_after = {}
        if server.proc.poll() is None:
            metrics_after = parse_metrics((await mclient.get("/metrics")).text)
            end_rss = rss_mib(server.proc.pid)
        else:
            end_rss = None
    return {"baseline": baseline, "end": end, "end_rss_mib": end_rss, "records": records,
            "samples": sampler.samples, "metric_errors": sampler.metric_errors,
            "load_start": load_start, "load_end": load_end, "drain_end": drain_end,
            "metrics_before": metrics_before, "metrics_after": metrics_after}


# ---------------------------------------------------------------------------------------------- summary

LOG_LEVEL = re.compile(r"^\S+ (trace|debug|info|notice|warning|error|critical) (\S+): (.*)$")


def scan_log(path):
    """Counts of swift-log levels and the distinct warning/error messages (numbers masked) of the server log."""
    levels, messages, other = {}, {}, []
    for line in pathlib.Path(path).read_text(errors="replace").splitlines():
        m = LOG_LEVEL.match(line)
        if m:
            levels[m.group(1)] = levels.get(m.group(1), 0) + 1
            if m.group(1) in ("warning", "error", "critical"):
                msg = re.sub(r"hb\.request\.id=\S+\s*", "", m.group(3))  # Hummingbird's per-request metadata
                key = m.group(1) + ": " + re.sub(r"\d+", "N", msg)[:200]
                messages[key] = messages.get(key, 0) + 1
        elif re.search(r"(?i)\b(error|warning|fatal|crash)", line):
            other.append(line[:300])
    return {"levels": levels, "messages": dict(sorted(messages.items(), key=lambda kv: -kv[1])[:20]),
            "other_lines": other[:20]}


def summarize(a, run, server_alive, log_scan):
    recs = [r for r in run["records"] if "status" in r]
    cut = [r for r in run["records"] if r.get("cut")]
    duration = run["load_end"] - run["load_start"]
    kinds = {}
    for k in KINDS:
        rs = [r for r in recs if r["kind"] == k]
        ok = [r for r in rs if not r["error"]]
        full = [r for r in ok if not r["cancelled"]]
        ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
        lat = [r["latency"] for r in full]
        xc = {}
        for r in rs:
            xc[str(r["x_cache"])] = xc.get(str(r["x_cache"]), 0) + 1
        prompt = sum(r["prompt_tokens"] or 0 for r in full)
        cached = sum(r["cached_tokens"] or 0 for r in full)
        kinds[k] = {"requests": len(rs), "errors": len(rs) - len(ok), "cancelled": sum(r["cancelled"] for r in rs),
                    "completed_before_cancel": sum(1 for r in ok if k == "cancel" and not r["cancelled"]),
                    "tokens": sum(r["tokens"] for r in ok), "x_cache": xc,
                    "prompt_tokens": prompt, "cached_tokens": cached,
                    "ttft_p50": pct(ttft, 0.5), "ttft_p95": pct(ttft, 0.95), "ttft_p99": pct(ttft, 0.99),
                    "latency_p50": pct(lat, 0.5), "latency_p95": pct(lat, 0.95), "latency_p99": pct(lat, 0.99),
                    "requests_per_s": len(rs) / duration if duration else 0}
    errors = [r for r in recs if r["error"]]
    by_error = {}
    for r in errors:
        key = f"{r['kind']}: {re.sub(r'[0-9a-f]{8,}|[0-9]+', 'N', r['error'])[:160]}"
        by_error[key] = by_error.get(key, 0) + 1
    b, e = run["baseline"], run["end"] or {}
    rss = [s["rss_mib"] for s in run["samples"] if s.get("rss_mib") is not None and s["phase"] != "warm-up"]
    load_rss = [s for s in run["samples"] if s["phase"] == "load" and s.get("rss_mib") is not None]
    half = [s["rss_mib"] for s in load_rss if s["t"] >= run["load_start"] + duration / 2]
    used_peak = max((s["used"] for s in run["samples"] if s.get("used") is not None), default=None)
    # RSS grows while the KV pool's pages are touched for the first time: the growth per newly occupied block
    # (total - free: in use or holding cached KV; cached blocks may be in use too) to compare with the block size
    # (576 KiB for Gemma 3 270M, f32 K and V).
    occ = [s["total"] - s["free"] for s in run["samples"] if s.get("free") is not None and s["phase"] != "warm-up"]
    occ_growth = (max(occ) - (b["total"] - b["free"])) if occ else 0
    rss_per_block = ((max(rss) - b["rss_mib"]) / occ_growth) if rss and occ_growth > 0 else None
    # Free blocks are handed out FIFO (untouched ones first), so RSS may grow by up to the whole pool whatever the
    # occupancy; growth beyond the pool (plus 64 MiB for allocator slack, caches, buffers) is suspicious.
    block_kib = a.kv_block_kib
    pool_mib = b["total"] * block_kib / 1024 if block_kib and b.get("total") else None
    rss_growth = (max(rss) - b["rss_mib"]) if rss else None
    rss_verdict = None if pool_mib is None or rss_growth is None else (
        "within the KV pool" if rss_growth <= pool_mib + 64 else "BEYOND the KV pool")
    kv_ok = server_alive and e.get("used") is not None and e.get("used") == b["used"]
    ma, mb = run["metrics_after"], run["metrics_before"]
    delta = lambda name: (ma.get(name, 0) - mb.get(name, 0)) if ma else None
    statuses = {k.split("{", 1)[1].rstrip("}"): v - mb.get(k, 0) for k, v in ma.items()
                if k.startswith("infer_requests_total{") and v - mb.get(k, 0)}
    return {
        "duration_s": duration, "requests": len(recs), "errors": len(errors), "cut_at_end": len(cut),
        "errors_by_message": dict(sorted(by_error.items(), key=lambda kv: -kv[1])),
        "requests_per_s": len(recs) / duration if duration else 0,
        "completed_per_s": sum(1 for r in recs if not r["error"] and not r["cancelled"]) / duration if duration else 0,
        "tokens_per_s": sum(r["tokens"] for r in recs if not r["error"]) / duration if duration else 0,
        "kinds": kinds,
        "rss_mib": {"start": b["rss_mib"], "peak": max(rss) if rss else None, "end": run["end_rss_mib"],
                    "load_second_half_min": min(half) if half else None,
                    "load_second_half_max": max(half) if half else None,
                    "kv_blocks_newly_occupied": occ_growth, "growth_mib_per_new_kv_block": rss_per_block,
                    "growth": rss_growth, "kv_block_kib": block_kib, "kv_pool_mib": pool_mib,
                    "verdict": rss_verdict},
        "kv": {"used_baseline": b["used"], "used_end": e.get("used"), "used_peak": used_peak,
               "cached_baseline": b["cached"], "cached_end": e.get("cached"), "total": b["total"],
               "running_end": e.get("running"), "queued_end": e.get("queued"),
               "router_in_flight_end": e.get("router_in_flight"),
               "result": "PASS" if kv_ok else "FAIL"},
        "server_alive": server_alive,
        "server_metrics_delta": {
            "requests_by_route_status": statuses,
            "preemptions": delta("infer_engine_preemptions_total"),
            "prefix_evictions": delta("infer_prefix_cache_evictions_total"),
            "prefix_hit_tokens": delta("infer_prefix_cache_hit_tokens_total"),
            "prefix_query_tokens": delta("infer_prefix_cache_query_tokens_total"),
            "decode_tokens": delta("infer_engine_decode_tokens_total"),
            "prefill_tokens": delta("infer_engine_prefill_tokens_total"),
            "cache_hits": delta("litellm_cache_hits_metric"), "cache_misses": delta("litellm_cache_misses_metric"),
            "cache_bypasses": delta("infer_cache_bypasses_total"),
            "deployment_failures": sum(v - mb.get(k, 0) for k, v in ma.items()
                                       if k.startswith("litellm_deployment_failure_responses")) if ma else None,
            "deployment_cooldowns": sum(v - mb.get(k, 0) for k, v in ma.items()
                                        if k.startswith("litellm_deployment_cooled_down")) if ma else None,
        },
        "metrics_scrape_errors": run["metric_errors"],
        "server_log": log_scan,
    }


def dump(result):
    """JSON with the summary indented and one line per sample and per request (a 10-minute run has thousands)."""
    big = ("samples", "requests")
    head = json.dumps({k: v for k, v in result.items() if k not in big}, indent=2)
    parts = [f'"{k}": [\n' + ",\n".join("  " + json.dumps(x, separators=(",", ":")) for x in result[k]) + "\n]"
             for k in big]
    return head[:-2] + ",\n" + ",\n".join(parts) + "\n}\n"


def fmt(v, f="{:.3f}"):
    return "-" if v is None else f.format(v)


def table(result):
    s, p = result["summary"], result["params"]
    rows = [f"| kind | share | requests | errors | x-cache | cached / prompt tokens | TTFT p50 s | p95 | p99 "
            f"| latency p50 s | p95 | p99 | req/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in KINDS:
        r = s["kinds"][k]
        xc = ", ".join(f"{n} {c}" for n, c in sorted(r["x_cache"].items()))
        note = f" ({r['cancelled']} cancelled)" if k == "cancel" else ""
        hit = (f"{r['cached_tokens']} / {r['prompt_tokens']} ({r['cached_tokens'] / r['prompt_tokens'] * 100:.0f} %)"
               if r["prompt_tokens"] else "-")
        lat = [fmt(r["latency_p50"]), fmt(r["latency_p95"]), fmt(r["latency_p99"])] if k != "cancel" else \
            ["(cancelled)", "", ""]
        rows.append(f"| {k} | {p['mix'][k]:g} % | {r['requests']}{note} | {r['errors']} | {xc} | {hit} | "
                    f"{fmt(r['ttft_p50'])} | {fmt(r['ttft_p95'])} | {fmt(r['ttft_p99'])} | "
                    f"{' | '.join(lat)} | {r['requests_per_s']:.2f} |")
    kvs, rss, m = s["kv"], s["rss_mib"], s["server_metrics_delta"]
    rows += ["", "| total requests | errors | req/s | completed req/s | streamed tokens/s | RSS start / peak / end MiB "
                 "| KV used baseline / peak / end (blocks) | KV cached end | KV back to baseline |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {s['requests']} | {s['errors']} | {s['requests_per_s']:.2f} | {s['completed_per_s']:.2f} | "
             f"{s['tokens_per_s']:.1f} | {fmt(rss['start'], '{:.0f}')} / {fmt(rss['peak'], '{:.0f}')} / "
             f"{fmt(rss['end'], '{:.0f}')} | {fmt(kvs['used_baseline'], '{:.0f}')} / {fmt(kvs['used_peak'], '{:.0f}')}"
             f" / {fmt(kvs['used_end'], '{:.0f}')} of {fmt(kvs['total'], '{:.0f}')} | "
             f"{fmt(kvs['cached_end'], '{:.0f}')} | {kvs['result']} |"]
    if rss["growth"] is not None and rss["kv_pool_mib"] is not None:
        rows += ["", f"RSS grew {rss['growth']:.0f} MiB while {rss['kv_blocks_newly_occupied']:.0f} more KV blocks became "
                     f"occupied (used or cached). The KV pool ({kvs['total']:.0f} blocks x {rss['kv_block_kib']:.0f} KiB, "
                     f"f32 K and V = {rss['kv_pool_mib']:.0f} MiB) is allocated up front and its pages are touched on "
                     "first use; free blocks are handed out FIFO (untouched ones first), so RSS grows by up to the whole "
                     f"pool, then levels off. RSS growth: **{rss['verdict']}**."]
    if s["errors_by_message"]:
        rows += ["", "Errors:", ""] + [f"- {n} x {msg}" for msg, n in s["errors_by_message"].items()]
    lg = s["server_log"]
    rows += ["", f"Server: {'alive' if s['server_alive'] else 'DIED'}; at the end {fmt(kvs['running_end'], '{:.0f}')} "
                 f"running, {fmt(kvs['queued_end'], '{:.0f}')} queued, {fmt(kvs['router_in_flight_end'], '{:.0f}')} in "
                 f"flight at the router (litellm_deployment_in_flight); requests by route/status during the load "
                 f"{json.dumps({k: int(v) for k, v in m['requests_by_route_status'].items()})}; "
                 f"{fmt(m['preemptions'], '{:.0f}')} preemptions, {fmt(m['prefix_evictions'], '{:.0f}')} prefix-cache "
                 f"evictions, response cache {fmt(m['cache_hits'], '{:.0f}')} hits / {fmt(m['cache_misses'], '{:.0f}')} "
                 f"misses / {fmt(m['cache_bypasses'], '{:.0f}')} bypasses; log levels {json.dumps(lg['levels'])}"
                 + (f"; {s['cut_at_end']} requests cut after the drain time" if s["cut_at_end"] else "") + "."]
    if lg["messages"] or lg["other_lines"]:
        rows += ["", "Server log warnings/errors (numbers masked):", ""]
        rows += [f"- {n} x `{msg}`" for msg, n in lg["messages"].items()]
        rows += [f"- `{line}`" for line in lg["other_lines"]]
    mc = result["machine"]
    rows += ["", f"{p['model']}, `--cache {p['cache']}`, {p['clients']} concurrent streaming clients (chat completions) "
                 f"for {s['duration_s'] / 60:.3g} min, {p['max_tokens']} tokens per request (greedy, EOS ignored; "
                 f"cancel: {p['max_tokens'] * 4}, dropped after {p['cancel_after']} chunks), server --threads "
                 f"{p['threads']} --max-running {p['max_running']} --kv-cache-tokens {p['kv_cache_tokens']}; "
                 f"{mc['cores']} cores ({mc['cpu']}), {mc['date']}. Latency percentiles are of completed streams; "
                 "TTFT = first non-empty content delta. Shared, noisy machine: clients and server share the cores."]
    return "\n".join(rows) + "\n"


def plot(result, path):
    try:
        import matplotlib
    except ImportError:
        venv = CACHE / "venv"
        if not (venv / "bin/python").exists():
            log("installing matplotlib into " + str(venv))
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "matplotlib"], check=True)
        subprocess.run([str(venv / "bin/python"), __file__, "--plot-only", str(path)], check=True)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    samples, t = result["samples"], result["timeline"]
    def xs(key):
        pts = [(x["t"], x[key]) for x in samples if x.get(key) is not None]
        return [t for t, _ in pts], [v for _, v in pts]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    ax1.plot(*xs("rss_mib"), color="tab:orange", lw=1.2)
    ax1.set_ylabel("server RSS MiB")
    ax2.plot(*xs("used"), color="tab:red", lw=1.2, label="KV used")
    ax2.plot(*xs("cached"), color="tab:blue", lw=1, label="KV cached (prefix cache)")
    ax2.axhline(result["summary"]["kv"]["used_baseline"] or 0, color="k", ls="--", lw=0.8, label="used baseline")
    ax2.set_ylabel("KV blocks")
    ax2.set_xlabel("seconds")
    ax3 = ax2.twinx()
    ax3.plot(*xs("in_flight"), color="tab:gray", lw=0.6, alpha=0.6)
    ax3.set_ylabel("client requests in flight", color="tab:gray", fontsize=8)
    for ax in (ax1, ax2):
        ax.axvspan(t["load_start"], t["load_end"], color="tab:green", alpha=0.07)
        ax.axvline(t["drain_end"], color="tab:gray", ls=":", lw=0.8)
    ax2.legend(fontsize=7, loc="upper left")
    p, s = result["params"], result["summary"]
    ax1.set_title(f"{p['model']}, --cache {p['cache']}, {p['clients']} clients, {s['duration_s'] / 60:.3g} min "
                  f"(shaded: load; dotted: drained); KV used back to baseline: {s['kv']['result']}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path.with_name(path.stem + "-rss.png"), dpi=120)


# ---------------------------------------------------------------------------------------------- main

def machine():
    cpu = platform.processor() or ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "note": "shared, noisy machine; the clients and the server share the same cores"}


def parse_mix(s):
    mix = {k: 0.0 for k in KINDS}
    for part in s.split(","):
        k, _, v = part.partition("=")
        if k.strip() not in mix:
            raise argparse.ArgumentTypeError(f"unknown kind {k!r} (kinds: {', '.join(KINDS)})")
        mix[k.strip()] = float(v)
    total = sum(mix.values())
    if total <= 0 or any(v < 0 for v in mix.values()):
        raise argparse.ArgumentTypeError("--mix needs non-negative weights with a positive sum")
    return {k: v * 100 / total for k, v in mix.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--infer-bin", default=os.environ.get("INFER_BIN", str(ROOT / ".build/release/infer")))
    ap.add_argument("--clients", type=int, default=64, help="concurrent streaming clients")
    ap.add_argument("--minutes", type=float, default=10, help="minutes of load")
    ap.add_argument("--max-tokens", type=int, default=32, help="tokens per request (cancel requests: 4x)")
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("exact=30,prefix=30,miss=25,cancel=15"),
                    help="proportions of the kinds (normalised): exact, prefix, miss, cancel")
    ap.add_argument("--cancel-after", type=int, default=4, help="content chunks a cancel request reads first")
    ap.add_argument("--cache", choices=("local", "redis"), default="local",
                    help="response cache: in-process memory, or Redis (a redis-server started here)")
    ap.add_argument("--system-chars", type=int, default=4000, help="size of the shared system prompt (~1k tokens)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="server --threads")
    ap.add_argument("--max-running", type=int, default=16, help="server --max-running")
    ap.add_argument("--max-queued", type=int, default=256, help="server --max-queued")
    ap.add_argument("--kv-cache-tokens", type=int, default=65536, help="server --kv-cache-tokens")
    ap.add_argument("--ramp-seconds", type=float, default=5, help="client i starts at i/clients of this")
    ap.add_argument("--request-timeout", type=float, default=300, help="seconds per request (read timeout)")
    ap.add_argument("--drain-seconds", type=float, default=120, help="grace for in-flight requests at the end")
    ap.add_argument("--idle-timeout", type=float, default=60, help="seconds to wait for KV used to settle")
    ap.add_argument("--progress", type=float, default=15, help="seconds between progress lines")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", help="JSON path (default bench/results/load-<date>.json)")
    ap.add_argument("--plot-only")
    a = ap.parse_args()
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C; the finally below stops every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.plot_only:
        p = pathlib.Path(a.plot_only)
        plot(json.loads(p.read_text()), p)
        return
    a.seconds = a.minutes * 60
    a.kv_block_kib = kv_block_kib(a.model)
    if not os.access(a.infer_bin, os.X_OK):
        raise SystemExit(f"no infer binary at {a.infer_bin}: build it (see bench/README.md) or set INFER_BIN")
    if not os.path.exists(a.model):
        raise SystemExit(f"no model at {a.model}: run models/install")
    if a.cache == "redis" and not shutil.which("redis-server"):
        raise SystemExit("redis-server not found (Debian: apt-get install -y redis-server)")
    model = pathlib.Path(a.model).name.removesuffix(".gguf")
    CACHE.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    params = {"model": pathlib.Path(a.model).name, "cache": a.cache, "clients": a.clients, "minutes": a.minutes,
              "max_tokens": a.max_tokens, "mix": a.mix, "cancel_after": a.cancel_after, "threads": a.threads,
              "ramp_seconds": a.ramp_seconds, "max_running": a.max_running, "max_queued": a.max_queued,
              "kv_cache_tokens": a.kv_cache_tokens, "kv_block_kib": a.kv_block_kib,
              "system_chars": a.system_chars, "seed": a.seed, "infer_bin": a.infer_bin}
    log(f"{a.clients} clients x {a.minutes:g} min, --cache {a.cache}, mix "
        + ", ".join(f"{k} {v:.0f} %" for k, v in a.mix.items()))
    redis = None
    try:
        extra = ["--cache", a.cache, "--cache-namespace", f"loadbench-{os.getpid()}"]
        if a.cache == "redis":
            redis = Redis().__enter__()
            extra += ["--redis-url", redis.url]
        with Server(a, extra) as server:
            log(f"server pid {server.proc.pid} on port {server.port} (log {server.log_path})")
            run = asyncio.run(load(a, server, model))
            alive = server.proc.poll() is None
            returncode = server.proc.returncode
        log_scan = scan_log(server.log_path)
        log_scan["exit_code_after_sigterm"] = server.proc.returncode
    finally:
        for p in list(PROCS):
            stop(p)
    summary = summarize(a, run, alive, log_scan)
    result = {"date": date, "machine": machine(), "params": params, "summary": summary,
              "timeline": {k: run[k] for k in ("load_start", "load_end", "drain_end")},
              "baseline": run["baseline"], "end": run["end"],
              "samples": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in x.items()} for x in run["samples"]],
              "requests": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                           for r in run["records"]]}
    out = pathlib.Path(a.output or ROOT / "bench/results" / f"load-{date}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump(result))
    md = table(result)
    out.with_suffix(".md").write_text(md)
    print("\n" + md)
    plot(result, out)
    log(f"wrote {out}, {out.with_suffix('.md')} and {out.stem}-rss.png")
    failed = summary["errors"] > 0 or summary["kv"]["result"] != "PASS" or not alive
    if failed:
        log(f"FAIL: {summary['errors']} errors, KV used {summary['kv']['used_baseline']} -> {summary['kv']['used_end']}"
            f", server {'alive' if alive else 'died'} (exit {returncode})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
