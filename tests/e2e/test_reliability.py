"""Reliability under hostile input and failing dependencies (issue 8, "Must show"), over real HTTP on
loopback against real `infer serve` processes started from LiteLLM-style configs:

1. a table of malformed requests through the gateway path (status, error `type`, `param`, OpenAI envelope),
   while a normal streaming request runs next to it, with /health OK afterwards;
2. Redis SIGKILLed and restarted on the same port during a burst of cached, rate-limited requests: no
   request fails, and caching works again afterwards;
3. an `openai/` upstream that dies mid-stream (closes the socket, or stalls): the client gets the chunks
   that arrived, then an error event and `[DONE]`, in bounded time; non-streaming gets a 5xx or falls back;
4. a streaming client that stops reading cannot hold the engine: other requests go on, and after
   `--write-timeout` the generation is cancelled and its KV blocks are freed.

Malformed requests are sent with `http.client` / raw sockets so that invalid UTF-8, broken framing and
huge bodies reach the server unchanged. No test sleeps to synchronise; waits are polls with generous
bounds (a hang fails the test instead of stalling CI).
"""
import http.client
import json
import re
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from support import MODEL, LoopbackUpstream, RedisServer, Server, read_http_response, write_config

GROUP = "gemma"
HANG = 60.0          # generous upper bound for anything that must merely "not hang"
MAX_BODY = 8 << 20   # the table server's --max-body-bytes: a 10 MB body is over it


def envelope(status, headers, body, expected_status):
    """Asserts the status and OpenAI's error envelope; returns the inner error object."""
    assert status == expected_status, f"expected {expected_status}, got {status}: {body[:400]!r}"
    assert headers.get("content-type", "").startswith("application/json"), headers
    doc = json.loads(body)
    assert set(doc) == {"error"}, doc
    err = doc["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    assert err["param"] is None or isinstance(err["param"], str), err
    assert err["code"] is None or isinstance(err["code"], str), err
    return err


def raw_http(server, method, path, body=b"", headers=None, timeout=HANG):
    """One request over `http.client` (bytes sent as given); returns (status, lowercased headers, body)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"} if headers is None else headers
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw_socket(server, payload, half_close=False, timeout=HANG):
    """Sends raw bytes (optionally shutting the write side), reads one response until the connection
    closes or the declared body is complete; returns (status, lowercased headers, body)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_http_response(s)


def send_chat_request(sock, body):
    """Sends one raw `POST /v1/chat/completions` with the JSON `body` bytes (the response is not read)."""
    sock.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body)


def wait_for_metric(server, name, deadline):
    """Polls until the gauge `name` is at least 1 or `deadline` (monotonic) passes."""
    while metric(server, name) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_idle(server, baseline):
    """Waits (bounded) until no sequence runs and the KV blocks in use are back at `baseline`; asserts it."""
    deadline = time.monotonic() + 2 * HANG
    while time.monotonic() < deadline:
        if (metric(server, "infer_running_sequences") == 0
                and metric(server, "infer_kv_blocks", 'state="used"') <= baseline):
            break
        time.sleep(0.25)
    assert metric(server, "infer_running_sequences") == 0
    assert metric(server, "infer_kv_blocks", 'state="used"') <= baseline


def metric(server, name, labels=""):
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else r"(?:\{\})?") + r" ([0-9.eE+-]+)"
    m = re.search(r"^" + pattern + r"$", text, re.M)
    assert m, f"{name}{{{labels}}} not in /metrics"
    return float(m.group(1))


def read_sse(response):
    """Data payloads of an httpx streaming response, in order (stops after [DONE])."""
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            events.append(line[6:])
            if line == "data: [DONE]":
                break
    return events


def stream_ok(server, content, max_tokens=16, model=GROUP, path="/v1/chat/completions"):
    """A normal streaming chat request: asserts [DONE], no error event, non-empty text; returns the text."""
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
            "messages": [{"role": "user", "content": content}]}
    with httpx.stream("POST", f"{server.url}{path}", json=body, timeout=HANG) as r:
        assert r.status_code == 200, r.read()
        events = read_sse(r)
    assert events and events[-1] == "[DONE]", events[-3:]
    chunks = [json.loads(e) for e in events[:-1]]
    assert not any("error" in c for c in chunks), chunks
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text, chunks
    return text


# ---------------------------------------------------------------------------------------------------------
# 1. Malformed requests through the gateway path.

@pytest.fixture(scope="module")
def table_gateway(tmp_path_factory):
    # Two groups on the one local engine: with more than one group `model` is required (a single-group
    # config makes it optional, like the quick path).
    config = write_config(tmp_path_factory.mktemp("table"), f"""
model_list:
  - model_name: {GROUP}
    litellm_params: {{model: local/{MODEL}}}
  - model_name: {GROUP}-alias
    litellm_params: {{model: local/{MODEL}}}
router_settings:
  num_retries: 0
""")
    s = Server("--config", str(config), "--max-body-bytes", str(MAX_BODY), name="rel-table", with_model=False,
               model_name=GROUP).start()
    yield s
    assert s.stop() == 0, s.log_tail()


def chat(**fields):
    body = {"model": GROUP, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    body.update(fields)
    return json.dumps(body).encode()


def without(key):
    body = {"model": GROUP, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    del body[key]
    return json.dumps(body).encode()


CHAT = "/v1/chat/completions"
COMP = "/v1/completions"
BAD = "invalid_request_error"
NEST = 100_000

# (id, path, body bytes, extra headers or None, status, type, param)
TABLE = [
    ("json-truncated-array", CHAT, b'{"model": "gemma", "messages": [', None, 400, BAD, None),
    ("json-truncated-object", CHAT, chat()[:-1], None, 400, BAD, None),
    ("json-trailing-garbage", CHAT, chat() + b" xyz", None, 400, BAD, None),
    ("json-empty-body", CHAT, b"", None, 400, BAD, None),
    ("json-nan-literal", CHAT, chat()[:-1] + b', "temperature": NaN}', None, 400, BAD, None),
    ("json-single-quotes", CHAT, b"{'model': 'gemma'}", None, 400, BAD, None),
    ("body-array", CHAT, b"[1, 2, 3]", None, 400, BAD, None),
    ("body-string", COMP, b'"just a string"', None, 400, BAD, None),
    ("body-null", CHAT, b"null", None, 400, BAD, None),
    ("utf8-invalid-bytes", CHAT, b'{"model": "gemma", "max_tokens": 2, "messages": [{"role": "user", "content": "\xff\xfe\xfd"}]}',
     None, 400, BAD, None),
    ("utf8-overlong", CHAT, b'{"model": "gemma", "max_tokens": 2, "messages": [{"role": "user", "content": "\xc0\xaf"}]}',
     None, 400, BAD, None),
    ("utf8-truncated-sequence", COMP, b'{"model": "gemma", "max_tokens": 2, "prompt": "abc\xe2\x82"}', None, 400, BAD, None),
    ("utf8-surrogate-bytes", COMP, b'{"model": "gemma", "max_tokens": 2, "prompt": "\xed\xa0\x80"}', None, 400, BAD, None),
    ("nested-arrays-100k", CHAT, b"[" * NEST + b"]" * NEST, None, 400, BAD, None),
    ("nested-objects-100k", CHAT, b'{"a":' * NEST + b"1" + b"}" * NEST, None, 400, BAD, None),
    ("nested-in-field-100k", CHAT, chat()[:-1] + b', "metadata": ' + b"[" * NEST + b"]" * NEST + b"}",
     None, 400, BAD, None),
    ("unclosed-nesting-100k", CHAT, b"[" * NEST, None, 400, BAD, None),
    ("form-urlencoded", CHAT, b"model=gemma&messages=hi", {"Content-Type": "application/x-www-form-urlencoded"},
     400, BAD, None),
    ("multipart", CHAT, b"--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngemma\r\n--x--\r\n",
     {"Content-Type": "multipart/form-data; boundary=x"}, 400, BAD, None),
    ("model-null", CHAT, chat(model=None), None, 400, BAD, "model"),
    ("model-number", CHAT, chat(model=7), None, 400, BAD, "model"),
    ("model-unknown", CHAT, chat(model="no-such-model"), None, 404, BAD, "model"),
    ("model-unknown-completions", COMP, json.dumps({"model": "gpt-5", "prompt": "x"}).encode(), None, 404, BAD,
     "model"),
    ("messages-missing", CHAT, without("messages"), None, 400, BAD, "messages"),
    ("messages-string", CHAT, chat(messages="hi"), None, 400, BAD, "messages"),
    ("messages-object", CHAT, chat(messages={"role": "user", "content": "hi"}), None, 400, BAD, "messages"),
    ("messages-empty", CHAT, chat(messages=[]), None, 400, BAD, "messages"),
    ("messages-null", CHAT, chat(messages=None), None, 400, BAD, "messages"),
    ("message-not-object", CHAT, chat(messages=[42]), None, 400, BAD, "messages[0]"),
    ("role-unknown", CHAT, chat(messages=[{"role": "wizard", "content": "hi"}]), None, 400, BAD, "messages[0].role"),
    ("role-missing", CHAT, chat(messages=[{"content": "hi"}]), None, 400, BAD, "messages[0].role"),
    ("role-number", CHAT, chat(messages=[{"role": 1, "content": "hi"}]), None, 400, BAD, "messages[0].role"),
    ("content-number", CHAT, chat(messages=[{"role": "user", "content": 5}]), None, 400, BAD, "messages[0].content"),
    ("content-object", CHAT, chat(messages=[{"role": "user", "content": {"text": "hi"}}]), None, 400, BAD,
     "messages[0].content"),
    ("content-null-user", CHAT, chat(messages=[{"role": "user", "content": None}]), None, 400, BAD,
     "messages[0].content"),
    ("content-image-part", CHAT, chat(messages=[{"role": "user", "content": [{"type": "image_url",
                                                                              "image_url": {"url": "x"}}]}]),
     None, 400, BAD, "messages[0].content[0]"),
    ("content-empty-parts", CHAT, chat(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": []}]),
     None, 400, BAD, "messages[1].content"),
    ("max_tokens-string", CHAT, chat(max_tokens="ten"), None, 400, BAD, "max_tokens"),
    ("max_tokens-negative", CHAT, chat(max_tokens=-1), None, 400, BAD, "max_tokens"),
    ("max_tokens-huge", CHAT, chat(max_tokens=10**30), None, 400, BAD, "max_tokens"),
    ("max_tokens-int64-overflow", CHAT, without("max_tokens")[:-1] + b', "max_tokens": 99999999999999999999999}',
     None, 400, BAD, "max_tokens"),
    ("max_tokens-1e400", CHAT, without("max_tokens")[:-1] + b', "max_tokens": 1e400}', None, 400, BAD, "max_tokens"),
    ("max_tokens-fraction", CHAT, chat(max_tokens=2.5), None, 400, BAD, "max_tokens"),
    ("max_completion_tokens-negative", CHAT, chat(max_completion_tokens=-5), None, 400, BAD,
     "max_completion_tokens"),
    ("n-zero", CHAT, chat(n=0), None, 400, BAD, "n"),
    ("n-negative", CHAT, chat(n=-3), None, 400, BAD, "n"),
    ("n-huge", CHAT, chat(n=1_000_000), None, 400, BAD, "n"),
    ("n-string", CHAT, chat(n="2"), None, 400, BAD, "n"),
    ("temperature-negative", CHAT, chat(temperature=-1), None, 400, BAD, "temperature"),
    ("temperature-huge", CHAT, chat(temperature=1e308), None, 400, BAD, "temperature"),
    ("temperature-string", CHAT, chat(temperature="hot"), None, 400, BAD, "temperature"),
    ("top_p-over-one", CHAT, chat(top_p=2), None, 400, BAD, "top_p"),
    ("top_p-negative", CHAT, chat(top_p=-0.5), None, 400, BAD, "top_p"),
    ("top_p-list", CHAT, chat(top_p=[0.9]), None, 400, BAD, "top_p"),
    ("logprobs-string", CHAT, chat(logprobs="yes"), None, 400, BAD, "logprobs"),
    ("top_logprobs-huge", CHAT, chat(logprobs=True, top_logprobs=1000), None, 400, BAD, "top_logprobs"),
    ("top_logprobs-negative", CHAT, chat(logprobs=True, top_logprobs=-1), None, 400, BAD, "top_logprobs"),
    ("top_logprobs-without-logprobs", CHAT, chat(top_logprobs=3), None, 400, BAD, "top_logprobs"),
    ("completions-logprobs-huge", COMP, json.dumps({"model": GROUP, "prompt": "x", "logprobs": 10**6}).encode(),
     None, 400, BAD, "logprobs"),
    ("logit_bias-value-huge", CHAT, chat(logit_bias={"1": 1e9}), None, 400, BAD, "logit_bias"),
    ("logit_bias-negative-id", CHAT, chat(logit_bias={"-5": 1}), None, 400, BAD, "logit_bias"),
    ("logit_bias-id-out-of-vocab", CHAT, chat(logit_bias={"99999999999": 1}), None, 400, BAD, "logit_bias"),
    ("logit_bias-list", CHAT, chat(logit_bias=[1, 2]), None, 400, BAD, "logit_bias"),
    ("logit_bias-string-value", CHAT, chat(logit_bias={"1": "up"}), None, 400, BAD, "logit_bias"),
    ("stream-string", CHAT, chat(stream="yes"), None, 400, BAD, "stream"),
    ("stream_options-number", CHAT, chat(stream=True, stream_options=1), None, 400, BAD, "stream_options"),
    ("stop-number", CHAT, chat(stop=5), None, 400, BAD, "stop"),
    ("stop-too-many", CHAT, chat(stop=["a", "b", "c", "d", "e"]), None, 400, BAD, "stop"),
    ("seed-string", CHAT, chat(seed="abc"), None, 400, BAD, "seed"),
    ("seed-huge", CHAT, chat(seed=10**40), None, 400, BAD, "seed"),
    ("presence_penalty-huge", CHAT, chat(presence_penalty=100), None, 400, BAD, "presence_penalty"),
    ("fallbacks-string", CHAT, chat(fallbacks="other"), None, 400, BAD, "fallbacks"),
    ("prompt-object", COMP, json.dumps({"model": GROUP, "prompt": {"a": 1}}).encode(), None, 400, BAD, "prompt"),
    ("prompt-missing", COMP, json.dumps({"model": GROUP, "max_tokens": 2}).encode(), None, 400, BAD, "prompt"),
    ("prompt-token-out-of-vocab", COMP, json.dumps({"model": GROUP, "prompt": [-1]}).encode(), None, 400, BAD,
     "prompt"),
]


@pytest.fixture(scope="module")
def background_streams(table_gateway):
    """Normal streaming requests, one after another in a thread, for as long as the table runs."""
    state = {"done": threading.Event(), "ok": 0, "errors": []}

    def loop():
        while not state["done"].is_set():
            try:
                stream_ok(table_gateway, "Write a short poem about the sea.", max_tokens=24)
                state["ok"] += 1
            except BaseException as e:   # noqa: BLE001 - reported by the final test
                state["errors"].append(repr(e))
                return

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    state["thread"] = t
    yield state
    state["done"].set()
    t.join(HANG)


@pytest.mark.parametrize("path,body,headers,status,type_,param", [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_malformed_request_table(table_gateway, background_streams, path, body, headers, status, type_, param):
    got_status, got_headers, got_body = raw_http(table_gateway, "POST", path, body, headers)
    err = envelope(got_status, got_headers, got_body, status)
    assert err["type"] == type_, err
    if param is not None:
        assert err["param"] == param, err
    if status == 404:
        assert err["code"] == "model_not_found", err


def test_table_has_enough_rows():
    assert len(TABLE) >= 30


def test_body_over_limit_is_413(table_gateway, background_streams):
    body = b'{"model": "gemma", "prompt": "' + b"x" * (10 * 1000 * 1000) + b'"}'
    status, headers, raw = raw_http(table_gateway, "POST", COMP, body)
    err = envelope(status, headers, raw, 413)
    assert err["type"] == BAD and err["code"] == "request_too_large", err
    # Declared but never sent: answered at once, from the header alone (the server does not wait for it).
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1 << 40}\r\n\r\n").encode()
    status, headers, raw = raw_socket(table_gateway, head)
    envelope(status, headers, raw, 413)


def test_truncated_body_then_half_close(table_gateway, background_streams):
    """Content-Length promises more than arrives, then the client shuts its write side: an error (the
    server may answer 400 or just close), never a hang or a 5xx."""
    body = chat()
    payload = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body) + 50}\r\n\r\n").encode() + body
    try:
        status, headers, raw = raw_socket(table_gateway, payload, half_close=True)
    except AssertionError:
        return   # closed without an answer: acceptable for a connection that broke its own framing
    assert 400 <= status < 500, (status, raw[:300])


def test_wrong_method_is_404_envelope(table_gateway, background_streams):
    """As OpenAI: `GET /v1/chat/completions` is an invalid URL (404), in the envelope."""
    status, headers, raw = raw_http(table_gateway, "GET", CHAT)
    err = envelope(status, headers, raw, 404)
    assert err["type"] == BAD


def test_concurrent_stream_survived_the_table(table_gateway, background_streams):
    background_streams["done"].set()
    background_streams["thread"].join(HANG)
    assert not background_streams["thread"].is_alive(), "the background stream hung"
    assert background_streams["errors"] == [], background_streams["errors"]
    assert background_streams["ok"] >= 1
    r = httpx.get(f"{table_gateway.url}/health", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    stream_ok(table_gateway, "One more after the table.")
    assert table_gateway.proc.poll() is None


# ---------------------------------------------------------------------------------------------------------
# 2. Redis SIGKILLed and restarted during a burst.

RPM_KEY = "sk-rel-rpm"


@pytest.fixture(scope="module")
def redis_gateway(tmp_path_factory):
    redis = RedisServer().start()
    config = write_config(tmp_path_factory.mktemp("redis"), f"""
model_list:
  - model_name: {GROUP}
    litellm_params: {{model: local/{MODEL}}}
router_settings:
  num_retries: 0
  redis_url: {redis.url}
litellm_settings:
  cache: true
  cache_params: {{type: redis, url: "{redis.url}", namespace: rel}}
general_settings:
  master_key: sk-rel-master
keys:
  - {{key: {RPM_KEY}, alias: burst, rpm: 1000000}}
""")
    s = Server("--config", str(config), name="rel-redis", with_model=False, model_name=GROUP).start()
    yield s, redis
    code = s.stop()
    if redis.proc is not None and redis.proc.poll() is None:
        redis.stop()
    assert code == 0, s.log_tail()


def keyed_chat(server, content, max_tokens=2, timeout=HANG):
    return httpx.post(f"{server.url}/v1/chat/completions", timeout=timeout,
                      headers={"authorization": f"Bearer {RPM_KEY}"},
                      json={"model": GROUP, "max_tokens": max_tokens, "temperature": 0,
                            "messages": [{"role": "user", "content": content}]})


def test_redis_sigkill_and_restart_during_burst(redis_gateway):
    server, redis = redis_gateway
    threads, per_thread = 8, 60
    hot = [f"Burst question number {i}: name a colour." for i in range(6)]
    # Warm the cache (these become HITs during the burst while Redis is up).
    for q in hot:
        r = keyed_chat(server, q)
        assert r.status_code == 200, r.text
    assert keyed_chat(server, hot[0]).headers["x-cache"] == "HIT"
    assert redis.command("EXISTS", "x") == ":0"

    completed = {"n": 0}
    lock = threading.Lock()
    killed, restarted = threading.Event(), threading.Event()
    failures, caches = [], []

    def worker(t):
        for i in range(per_thread):
            # Two thirds repeat a hot question (hits), one third are new (misses, stored).
            q = hot[(t + i) % len(hot)] if i % 3 else f"Burst miss {t}-{i}: name a number."
            try:
                r = keyed_chat(server, q)
                ok = r.status_code == 200 and r.json()["choices"][0]["message"]["content"] is not None
                if not ok:
                    failures.append((r.status_code, r.text[:300]))
                caches.append(r.headers.get("x-cache"))
            except Exception as e:   # noqa: BLE001
                failures.append(repr(e))
            with lock:
                completed["n"] += 1

    def chaos():
        total = threads * per_thread
        deadline = time.monotonic() + 4 * HANG
        while completed["n"] < total // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        redis.proc.kill()           # SIGKILL: no goodbye to open connections
        redis.proc.wait(10)
        killed.set()
        mark = completed["n"]
        while completed["n"] < mark + total // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        redis.start()               # same port
        restarted.set()

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    chaos_thread.join(HANG)
    assert killed.is_set() and restarted.is_set(), "the burst ended before the outage was staged"
    assert failures == [], failures[:5]
    assert len(caches) == threads * per_thread
    assert "HIT" in caches and "BYPASS" in caches, sorted(set(caches))

    # Caching resumes by itself once the breaker lets a probe through: a repeated request becomes a HIT.
    q = "After the outage: which planet is largest?"
    deadline = time.monotonic() + HANG
    while True:
        r = keyed_chat(server, q)
        assert r.status_code == 200, r.text
        if r.headers["x-cache"] != "BYPASS" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.headers["x-cache"] in ("MISS", "HIT"), r.headers
    again = keyed_chat(server, q)
    assert again.status_code == 200 and again.headers["x-cache"] == "HIT", again.headers
    # The rate-limit counters are back in (the restarted, empty) Redis too.
    assert redis.command("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "*:rl:*") != ":0"


# ---------------------------------------------------------------------------------------------------------
# 3. An upstream that dies mid-stream.

class DyingUpstream(LoopbackUpstream):
    """An OpenAI-compatible server on loopback that starts answering and then fails, per `model`:
    `close-chunked` (SSE head + 2 chunks, then FIN without the terminating chunk), `close-plain`
    (no framing: 2 chunks then FIN without `[DONE]`), `reset` (2 chunks, then RST once the test has seen
    them arrive, since an RST may discard data the peer has not read yet), `stall` (2 chunks, then nothing,
    connection open). Non-streaming: a JSON head promising more bytes than it sends, then FIN."""

    def __init__(self):
        self.release = threading.Event()
        self.reset_now = threading.Event()
        self.stalled = []
        super().__init__()

    def close(self):
        self.release.set()
        self.reset_now.set()
        super().close()

    @staticmethod
    def _chunk(i, model):
        return {"id": "chatcmpl-dying", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": {"content": f"part{i} "}, "finish_reason": None}]}

    def serve(self, conn, body):
        mode = body["model"]
        if not body.get("stream"):
            payload = json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload) + 500).encode() + b"\r\n\r\n" + payload)
            conn.shutdown(socket.SHUT_WR)
            return
        events = [b"data: " + json.dumps(self._chunk(i, mode)).encode() + b"\n\n" for i in (1, 2)]
        if mode == "close-plain":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         + b"".join(events))
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for e in events:
            conn.sendall(f"{len(e):x}\r\n".encode() + e + b"\r\n")
        if mode == "stall":
            self.stalled.append(conn)
            self.release.wait()
        elif mode == "reset":
            self.reset_now.wait(HANG)
        else:
            conn.shutdown(socket.SHUT_WR)

    def finish(self, conn, body):
        if body is not None and body.get("model") == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture(scope="module")
def dying_gateway(tmp_path_factory):
    upstream = DyingUpstream()
    entries = "".join(f"""
  - model_name: {mode}
    litellm_params: {{model: openai/{mode}, api_base: "{upstream.url}", api_key: unused, stream_timeout: 3,
                      timeout: 30}}""" for mode in ("close-chunked", "close-plain", "reset", "stall"))
    config = write_config(tmp_path_factory.mktemp("dying"), f"""
model_list:{entries}
  - model_name: dying-with-fallback
    litellm_params: {{model: openai/close-chunked, api_base: "{upstream.url}", api_key: unused, timeout: 30}}
  - model_name: {GROUP}
    litellm_params: {{model: local/{MODEL}}}
router_settings:
  num_retries: 0
  retry_after: 0
  fallbacks: [{{"dying-with-fallback": ["{GROUP}"]}}]
""")
    s = Server("--config", str(config), name="rel-dying", with_model=False, model_name=GROUP).start()
    yield s, upstream
    upstream.close()
    assert s.stop() == 0, s.log_tail()


@pytest.mark.parametrize("mode,bound", [("close-chunked", 15), ("close-plain", 15), ("reset", 15),
                                        ("stall", 3 + 15)])
def test_stream_from_dying_upstream_ends_with_error_event(dying_gateway, mode, bound):
    server, upstream = dying_gateway
    upstream.reset_now.clear()
    body = {"model": mode, "stream": True, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    started = time.monotonic()
    events = []
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=HANG) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if line.startswith("data: {") and "part2" in line:
                upstream.reset_now.set()   # both chunks arrived: the `reset` upstream may RST now
            if line == "data: [DONE]":
                break
    elapsed = time.monotonic() - started
    assert events[-1] == "[DONE]", events
    parsed = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed if c.get("choices"))
    assert text == "part1 part2 ", parsed
    assert "error" in parsed[-1], parsed[-1]
    err = parsed[-1]["error"]
    assert {"message", "type", "param", "code"} <= set(err) and err["message"], err
    assert sum("error" in c for c in parsed) == 1
    assert elapsed < bound, f"{mode}: took {elapsed:.1f} s"


def test_server_healthy_after_dying_upstreams(dying_gateway):
    server, upstream = dying_gateway
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    stream_ok(server, "Still alive after the dying upstreams?")


def test_non_streaming_dying_upstream_is_clean_5xx(dying_gateway):
    server, _ = dying_gateway
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=HANG,
                   json={"model": "close-chunked", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
    err = envelope(r.status_code, dict(r.headers), r.content, r.status_code)
    assert 500 <= r.status_code < 600, (r.status_code, err)


def test_non_streaming_dying_upstream_falls_back(dying_gateway):
    server, _ = dying_gateway
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=HANG,
                   json={"model": "dying-with-fallback", "max_tokens": 4,
                         "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-model-group"] == GROUP
    assert r.headers["x-litellm-attempted-fallbacks"] == "1"
    assert r.json()["model"] == "dying-with-fallback"
    assert r.json()["choices"][0]["message"]["content"] is not None


# ---------------------------------------------------------------------------------------------------------
# 4. A client that stops reading.

@pytest.fixture(scope="module")
def write_timeout_server():
    s = Server("--write-timeout", "2", name="rel-slow").start()
    # One request first: the engine publishes its KV-block gauges after its first step.
    r = httpx.post(f"{s.url}/v1/chat/completions", timeout=HANG,
                   json={"model": s.model, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 200, r.text
    yield s
    assert s.stop() == 0, s.log_tail()


def test_stalled_reader_does_not_hold_the_engine(write_timeout_server):
    server = write_timeout_server
    baseline = metric(server, "infer_kv_blocks", 'state="used"')
    assert metric(server, "infer_running_sequences") == 0
    # A long generation with big chunks (8 choices, 20 top log-probabilities per token), read by nobody:
    # the socket's tiny receive window and the server's send buffers (autotuned, up to megabytes on
    # loopback) fill long before the generation could end.
    body = json.dumps({"model": server.model, "stream": True, "max_tokens": 30000, "ignore_eos": True,
                       "logprobs": True, "top_logprobs": 20, "n": 8,
                       "messages": [{"role": "user", "content": "Tell me a very long story."}]}).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((server.host, server.port))
    try:
        send_chat_request(s, body)
        # The stalled stream is running: wait until it holds KV blocks.
        deadline = time.monotonic() + HANG
        wait_for_metric(server, "infer_running_sequences", deadline)
        assert metric(server, "infer_running_sequences") >= 1
        # Other requests are served meanwhile (streaming and not).
        stream_ok(server, "Name three rivers.", model=server.model)
        r = httpx.post(f"{server.url}/v1/chat/completions", timeout=HANG,
                       json={"model": server.model, "max_tokens": 4,
                             "messages": [{"role": "user", "content": "Hi"}]})
        assert r.status_code == 200, r.text
        # The write timeout cancels the stalled stream: its sequence ends and its blocks are freed long
        # before 30000 tokens could have been generated (minutes on this machine).
        wait_idle(server, baseline)
        assert metric(server, "infer_stream_write_timeouts_total") >= 1
        assert metric(server, "infer_engine_decode_tokens_total") < 30000
    finally:
        s.close()
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    stream_ok(server, "And after it?", model=server.model)


def test_non_streaming_client_disconnect_cancels_generation(write_timeout_server):
    """A non-streaming client that hangs up: its generation is cancelled (blocks freed) rather than run to
    max_tokens."""
    server = write_timeout_server
    baseline = metric(server, "infer_kv_blocks", 'state="used"')
    before = metric(server, "infer_engine_decode_tokens_total")
    body = json.dumps({"model": server.model, "max_tokens": 30000, "ignore_eos": True,
                       "messages": [{"role": "user", "content": "Tell me another very long story."}]}).encode()
    s = socket.create_connection((server.host, server.port))
    send_chat_request(s, body)
    deadline = time.monotonic() + HANG
    wait_for_metric(server, "infer_running_sequences", deadline)
    assert metric(server, "infer_running_sequences") >= 1
    s.close()
    wait_idle(server, baseline)
    assert metric(server, "infer_engine_decode_tokens_total") - before < 30000


def test_queued_stream_whose_client_leaves_never_runs():
    """A streaming request still waiting in the queue when its client hangs up is cancelled there: it never
    takes a running slot or any KV (without this it would be prefilled and decoded once for nobody)."""
    server = Server("--max-running", "1", name="rel-queued").start()
    try:
        long_body = {"model": server.model, "max_tokens": 400, "ignore_eos": True,
                     "messages": [{"role": "user", "content": "Write a long story."}]}
        holder = threading.Thread(target=lambda: httpx.post(f"{server.url}/v1/chat/completions", json=long_body,
                                                            timeout=HANG), daemon=True)
        holder.start()
        deadline = time.monotonic() + HANG
        wait_for_metric(server, "infer_running_sequences", deadline)
        assert metric(server, "infer_running_sequences") == 1
        prefilled_before = metric(server, "infer_engine_prefill_tokens_total")
        body = json.dumps({"model": server.model, "max_tokens": 8, "stream": True,
                           "messages": [{"role": "user", "content": "Queued and abandoned."}]}).encode()
        s = socket.create_connection((server.host, server.port))
        send_chat_request(s, body)
        wait_for_metric(server, "infer_queue_depth", deadline)
        assert metric(server, "infer_queue_depth") == 1
        assert metric(server, "infer_running_sequences") == 1   # still behind the long request
        s.close()
        wait_for_metric(server, "infer_client_disconnects_total", deadline)
        assert metric(server, "infer_client_disconnects_total") == 1
        holder.join(HANG)
        assert not holder.is_alive()
        wait_idle(server, 0)
        # The abandoned request was never prefilled: no prompt work since it arrived.
        assert metric(server, "infer_engine_prefill_tokens_total") == prefilled_before
        assert metric(server, "infer_queue_depth") == 0
    finally:
        assert server.stop() == 0, server.log_tail()
