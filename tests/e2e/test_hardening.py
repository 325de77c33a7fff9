"""The holes of issue 13, each written as the attack, against real `infer serve` processes on loopback:

1. fallback escalation: a key limited to `cheap` must never be served by `paid`, not through the request's
   `fallbacks`, not through the config's `fallbacks`, `context_window_fallbacks`, `content_policy_fallbacks`
   or `default_fallbacks`; `/v1/models` shows it only its own groups;
2. slow clients: four to six connections that send headers and a few body bytes, then nothing, cannot take
   the concurrency slots (a legitimate request gets its 200 at once) and are closed after `--read-timeout`;
3. idle sockets up to `--max-connections`: the next connection gets a 503 at once, the idle ones are closed
   after `--idle-timeout`, and service resumes;
4. unbounded numbers: a cache `ttl` / `s-maxage` of 1e300, 1e19 or NaN is a 400 naming the parameter;
5. hostile upstreams: one SSE line that never ends, and a non-streaming body over `max_response_size_mb`,
   end in a clean error instead of unbounded memory.

Upstream stubs are plain sockets on loopback (the remote providers we cannot reach here). No test sleeps
to synchronise: waits are polls or socket reads with bounds that fail the test instead of hanging CI.
"""
import json
import socket
import time

import httpx
import pytest

from support import MODEL, LoopbackUpstream, Server, free_port, read_http_response, write_config

HANG = 60.0
MASTER = "sk-master-hardening"
LIMITED = "sk-only-cheap"


def chat_body(model, **extra):
    return dict({"model": model, "max_tokens": 2, "temperature": 0,
                 "messages": [{"role": "user", "content": "Say hi."}]}, **extra)


class StubUpstream(LoopbackUpstream):
    """An OpenAI-compatible upstream on loopback whose behaviour is chosen by the request's `model`:
    `ctx` (400 context_length_exceeded), `policy` (400 content_policy_violation), `endless` (a 200 SSE
    response whose one `data:` line never ends: 64 KiB pieces until the peer goes away), `huge` (a 200
    JSON body of 3 MiB), `ok` (a normal small completion)."""

    def __init__(self):
        self.endless_bytes = 0
        super().__init__()

    @staticmethod
    def _json(conn, status, doc):
        payload = json.dumps(doc).encode()
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + payload)

    def serve(self, conn, body):
        mode = body["model"]
        if mode == "ctx":
            self._json(conn, 400, {"error": {"message": "This model's maximum context length is 8 tokens",
                                             "type": "invalid_request_error", "param": "messages",
                                             "code": "context_length_exceeded"}})
        elif mode == "policy":
            self._json(conn, 400, {"error": {"message": "Flagged by the safety system",
                                             "type": "invalid_request_error", "param": None,
                                             "code": "content_policy_violation"}})
        elif mode == "huge":
            self._json(conn, 200, {"id": "x", "object": "chat.completion", "created": 0, "model": "huge",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "y" * (3 << 20)}}]})
        elif mode == "endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         b"data: {\"choices\": [{\"delta\": {\"content\": \"")
            piece = b"a" * 65536
            while self.endless_bytes < (256 << 20):   # bounded even if nothing stops us
                conn.sendall(piece)
                self.endless_bytes += len(piece)
        else:
            self._json(conn, 200, {"id": "x", "object": "chat.completion", "created": 0, "model": mode,
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "ok"}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = StubUpstream()
    dead = f"http://127.0.0.1:{free_port()}/v1"   # nothing listens there: connection refused
    config = write_config(tmp_path_factory.mktemp("hardening"), f"""
model_list:
  - model_name: cheap
    litellm_params: {{model: openai/dead, api_base: "{dead}", api_key: unused}}
  - model_name: cheap-ctx
    litellm_params: {{model: openai/ctx, api_base: "{upstream.url}", api_key: unused}}
  - model_name: cheap-policy
    litellm_params: {{model: openai/policy, api_base: "{upstream.url}", api_key: unused}}
  - model_name: paid
    litellm_params: {{model: local/{MODEL}}}
  - model_name: endless
    litellm_params: {{model: openai/endless, api_base: "{upstream.url}", api_key: unused, timeout: 60}}
  - model_name: huge
    litellm_params: {{model: openai/huge, api_base: "{upstream.url}", api_key: unused}}
router_settings:
  num_retries: 0
  fallbacks: [{{"cheap": ["paid"]}}]
  context_window_fallbacks: [{{"cheap-ctx": ["paid"]}}]
  content_policy_fallbacks: [{{"cheap-policy": ["paid"]}}]
  default_fallbacks: ["paid"]
litellm_settings:
  cache: true
  cache_params: {{type: local}}
general_settings:
  master_key: {MASTER}
  max_response_size_mb: 1
keys:
  - {{key: {LIMITED}, models: [cheap, cheap-ctx, cheap-policy, endless, huge]}}
""")
    s = Server("--config", str(config), name="hardening", with_model=False, model_name="paid").start()
    yield s, upstream
    upstream.close()
    assert s.stop() == 0, s.log_tail()


def post(server, body, key=LIMITED, path="/v1/chat/completions", headers=None):
    return httpx.post(f"{server.url}{path}", json=body, timeout=HANG,
                      headers={"authorization": f"Bearer {key}", **(headers or {})})


# ---------------------------------------------------------------------------------------------------------
# 1. Fallback escalation.

def test_request_fallbacks_naming_a_forbidden_group_is_403(gateway):
    server, _ = gateway
    r = post(server, chat_body("cheap", fallbacks=["paid"]))
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["param"] == "fallbacks" and err["type"] == "permission_error", err
    assert "paid" in err["message"]


@pytest.mark.parametrize("group", ["cheap", "cheap-ctx", "cheap-policy"])
def test_config_fallbacks_skip_forbidden_groups(gateway, group):
    """The config sends each of these groups to `paid` (generic, context-window, content-policy and default
    fallbacks); the limited key gets the group's own error, and `paid` never serves it."""
    server, _ = gateway
    r = post(server, chat_body(group))
    assert r.status_code >= 400, (r.status_code, r.headers.get("x-litellm-model-group"), r.text[:200])
    assert r.headers.get("x-litellm-model-group") != "paid"
    assert r.headers.get("x-litellm-attempted-fallbacks", "0") == "0", dict(r.headers)
    # The same request with the master key does fall back to `paid`: the config itself is live.
    m = post(server, chat_body(group), key=MASTER)
    assert m.status_code == 200, m.text
    assert m.headers["x-litellm-model-group"] == "paid"


def test_models_list_and_lookup_show_only_the_callers_groups(gateway):
    server, _ = gateway
    r = httpx.get(f"{server.url}/v1/models", headers={"authorization": f"Bearer {LIMITED}"}, timeout=30)
    assert r.status_code == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert ids == ["cheap", "cheap-ctx", "cheap-policy", "endless", "huge"], ids
    r = httpx.get(f"{server.url}/v1/models/paid", headers={"authorization": f"Bearer {LIMITED}"}, timeout=30)
    assert r.status_code == 403, r.text
    master = httpx.get(f"{server.url}/v1/models", headers={"authorization": f"Bearer {MASTER}"}, timeout=30)
    assert "paid" in [m["id"] for m in master.json()["data"]]


def test_tokenizer_routes_follow_the_same_rule(gateway):
    """`/tokenize` runs the local model (`paid` here): a key without it may not use it."""
    server, _ = gateway
    r = post(server, {"prompt": "hi"}, path="/tokenize")
    assert r.status_code == 403, r.text
    assert post(server, {"prompt": "hi"}, key=MASTER, path="/tokenize").status_code == 200


# ---------------------------------------------------------------------------------------------------------
# 2. Slow clients cannot take the request slots.

@pytest.fixture(scope="module")
def slow_server():
    s = Server("--max-concurrent-requests", "4", "--read-timeout", "3", "--idle-timeout", "30",
               name="hardening-slow").start()
    yield s
    assert s.stop() == 0, s.log_tail()


def trickle(server, n, body_bytes=b'{"mod'):
    """n connections that send headers (Content-Length 200) and a few body bytes, then nothing."""
    socks = []
    for _ in range(n):
        s = socket.create_connection((server.host, server.port), timeout=HANG)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 200\r\n\r\n" + body_bytes)
        socks.append(s)
    return socks


def test_trickling_clients_do_not_block_a_legitimate_request(slow_server):
    slow = trickle(slow_server, 6)
    try:
        started = time.monotonic()
        r = httpx.post(f"{slow_server.url}/v1/chat/completions", json=chat_body(slow_server.model), timeout=HANG)
        assert r.status_code == 200, r.text
        assert time.monotonic() - started < 2.5, "the legitimate request waited for the slow ones"
        # Each slow socket is answered 408 and closed once the read timeout (3 s) has passed.
        for s in slow:
            status, headers, body = read_http_response(s)
            assert status == 408, (status, body[:200])
            assert json.loads(body)["error"]["code"] == "request_timeout"
            assert s.recv(1) == b"", "the server kept the slow connection open"
        assert time.monotonic() - started < 3 + 10
    finally:
        for s in slow:
            s.close()


def test_trickled_headers_are_timed_out_too(slow_server):
    """Headers that never end (no request head is ever complete): closed after the read timeout."""
    with socket.create_connection((slow_server.host, slow_server.port), timeout=HANG) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        while s.recv(65536):
            pass
        assert time.monotonic() - started < 3 + 10


# ---------------------------------------------------------------------------------------------------------
# 3. Idle sockets up to the connection cap.

@pytest.fixture(scope="module")
def capped_server():
    s = Server("--max-connections", "8", "--idle-timeout", "3", "--read-timeout", "30",
               name="hardening-capped").start()
    yield s
    assert s.stop() == 0, s.log_tail()


def test_connection_cap_answers_503_and_idle_sockets_are_closed(capped_server):
    idle = [socket.create_connection((capped_server.host, capped_server.port), timeout=HANG) for _ in range(8)]
    try:
        # The ninth connection gets a 503 at once, not a hang.
        started = time.monotonic()
        r = httpx.get(f"{capped_server.url}/health", timeout=HANG)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "too_many_connections"
        assert r.headers.get("retry-after") == "1"
        assert time.monotonic() - started < 2
        # The idle ones are closed by the server after --idle-timeout (3 s).
        for s in idle:
            assert s.recv(1) == b""
        assert time.monotonic() - started < 3 + 10
        # And service is back.
        r = httpx.post(f"{capped_server.url}/v1/chat/completions", json=chat_body(capped_server.model), timeout=HANG)
        assert r.status_code == 200, r.text
    finally:
        for s in idle:
            s.close()


# ---------------------------------------------------------------------------------------------------------
# 4. Unbounded numbers from the request.

@pytest.mark.parametrize("field,value", [("ttl", 1e300), ("ttl", 1e19), ("ttl", 400 * 86400),
                                         ("s-maxage", 1e300), ("s-maxage", 1e19)])
def test_cache_durations_are_bounded(gateway, field, value):
    server, _ = gateway
    r = post(server, chat_body("paid", cache={field: value}), key=MASTER)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == f"cache.{field}", err
    assert "one year" in err["message"], err


def test_cache_ttl_nan_and_header_are_rejected(gateway):
    server, _ = gateway
    raw = b'{"model": "paid", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}], "cache": {"ttl": NaN}}'
    r = httpx.post(f"{server.url}/v1/chat/completions", content=raw, timeout=HANG,
                   headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    r = post(server, chat_body("paid"), key=MASTER, headers={"cache-control": "s-maxage=1e300"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "Cache-Control", r.text
    ok = post(server, chat_body("paid", cache={"ttl": 86400}), key=MASTER)
    assert ok.status_code == 200, ok.text


# ---------------------------------------------------------------------------------------------------------
# 5. Hostile upstreams.

def test_endless_sse_line_ends_in_an_error_event(gateway):
    server, upstream = gateway
    events = []
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=HANG,
                      headers={"authorization": f"Bearer {LIMITED}"},
                      json=chat_body("endless", stream=True)) as r:
        if r.status_code == 200:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(line[6:])
                    if line == "data: [DONE]":
                        break
            assert events and events[-1] == "[DONE]", events[-2:]
            err = json.loads(events[-2])["error"]
        else:
            err = json.loads(r.read())["error"]   # failed before any chunk: an HTTP error
            assert r.status_code == 502, (r.status_code, err)
    assert "longer than" in err["message"] or "too large" in err["message"], err
    # The upstream was cut off near the limits (1 MiB line, 1 MiB response), not read to its 256 MiB bound.
    assert upstream.endless_bytes < (64 << 20), upstream.endless_bytes


def test_response_over_max_response_size_is_502(gateway):
    server, _ = gateway
    r = post(server, chat_body("huge"))
    assert r.status_code == 502, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == "response_too_large", err
    assert "max_response_size_mb" in err["message"]
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
