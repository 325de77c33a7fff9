"""Every error case of the issue: status code AND the OpenAI envelope {"error": {message, type, param, code}}.

Malformed requests go over raw HTTP (`httpx`, or a socket for the oversized body), since the `openai`
client would refuse to build them; the rest go through the `openai` client too, to show its exception types.
"""
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from support import Server, read_http_response

OVERSIZE_BYTES = int(os.environ.get("INFER_E2E_OVERSIZE_BYTES", 64 * 1024 * 1024))


def envelope(response, status):
    """Asserts the status and the envelope shape; returns the inner error object."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), f"envelope lacks a field: {err}"
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    return err


def post(server, path, **kw):
    return httpx.post(f"{server.url}{path}", timeout=120, **kw)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_400_invalid_json(server, path):
    r = post(server, path, content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"})
    err = envelope(r, 400)
    assert err["type"] == "invalid_request_error"


def test_400_body_not_an_object(server):
    err = envelope(post(server, "/v1/completions", json=[1, 2, 3]), 400)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("field,value", [
    ("max_tokens", "ten"),
    ("temperature", "hot"),
    ("messages", "not-a-list"),
    ("stop", 5),
    ("n", 1.5),
    ("seed", "abc"),
    ("top_p", [0.9]),
    ("stream", "yes"),
])
def test_400_wrong_type_names_param(server, model, field, value):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, field: value}
    err = envelope(post(server, "/v1/chat/completions", json=body), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == field, f"param should name {field!r}: {err}"


def test_400_wrong_type_completions(server, model):
    err = envelope(post(server, "/v1/completions", json={"model": model, "prompt": {"a": 1}, "max_tokens": 2}), 400)
    assert err["param"] == "prompt"


def test_400_missing_required(server, model):
    err = envelope(post(server, "/v1/chat/completions", json={"model": model}), 400)
    assert err["param"] == "messages"


def test_400_bad_role(server, model):
    body = {"model": model, "messages": [{"role": "wizard", "content": "hi"}], "max_tokens": 2}
    envelope(post(server, "/v1/chat/completions", json=body), 400)


def test_400_wrong_type_via_openai_client(client, model):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=2, extra_body={"top_k": "many"})
    assert e.value.status_code == 400
    assert e.value.body["param"] == "top_k", e.value.body


def test_unknown_fields_are_ignored(server, model):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
            "some_future_field": {"x": 1}, "metadata": {"k": "v"}}
    r = post(server, "/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text


def test_404_model_not_found(server, client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=2)
    assert e.value.status_code == 404
    assert e.value.code == "model_not_found", e.value.body
    err = envelope(post(server, "/v1/completions", json={"model": "no-such-model", "prompt": "hi"}), 404)
    assert err["code"] == "model_not_found"
    assert err["param"] == "model"
    err = envelope(httpx.get(f"{server.url}/v1/models/no-such-model", timeout=30), 404)
    assert err["code"] == "model_not_found"


def test_404_unknown_route_is_an_envelope(server):
    envelope(httpx.get(f"{server.url}/v1/no-such-endpoint", timeout=30), 404)


def test_400_context_length_exceeded(server, client, model):
    info = post(server, "/tokenize", json={"model": model, "prompt": "hello"}).json()
    limit = info["max_model_len"]
    assert isinstance(limit, int) and limit > 0
    ids = info["tokens"][-1:] * (limit + 16)  # one ordinary token, repeated past the limit
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model, prompt=ids, max_tokens=4)
    assert e.value.status_code == 400
    assert e.value.code == "context_length_exceeded", e.value.body
    assert str(limit) in e.value.message, f"the message should name the limit {limit}: {e.value.message}"
    # The chat route says the same, with a text prompt.
    text = "hello " * (limit + 16)
    err = envelope(post(server, "/v1/chat/completions",
                        json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 4}), 400)
    assert err["code"] == "context_length_exceeded"
    assert str(limit) in err["message"]


def test_400_prompt_plus_max_tokens_over_limit(server, model):
    limit = post(server, "/tokenize", json={"model": model, "prompt": "hi"}).json()["max_model_len"]
    err = envelope(post(server, "/v1/completions", json={"model": model, "prompt": "hi", "max_tokens": limit * 2}), 400)
    assert err["code"] == "context_length_exceeded"


def raw_request(server, head, body_len, chunk=b"x" * 65536):
    """Sends `head` (which declares Content-Length `body_len`) and that many bytes of a JSON string over a
    socket, then reads one response. Stops sending if the server answers and closes early (allowed).
    Returns (status, headers, body bytes)."""
    with socket.create_connection((server.host, server.port), timeout=60) as s:
        s.sendall(head.encode())
        try:
            body = b'{"model": "m", "prompt": "'
            s.sendall(body)
            sent = len(body)
            while sent < body_len - 2:
                n = min(len(chunk), body_len - 2 - sent)
                s.sendall(chunk[:n])
                sent += n
            s.sendall(b'"}')
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_http_response(s)


def test_413_body_too_large(server):
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {OVERSIZE_BYTES}\r\n\r\n")
    status, headers, body = raw_request(server, head, OVERSIZE_BYTES)
    assert status == 413, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    err = json.loads(body)["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    # The same through an ordinary client (httpx sends the whole body, then reads).
    r = httpx.post(f"{server.url}/v1/chat/completions", content=b'{"messages": "' + b"x" * OVERSIZE_BYTES + b'"}',
                   headers={"content-type": "application/json"}, timeout=120)
    envelope(r, 413)
    # The server is still healthy afterwards.
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200


def test_401_wrong_api_key(auth_server):
    model = auth_server.model
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    url = f"{auth_server.url}/v1/chat/completions"
    for headers in ({"authorization": "Bearer wrong-key"}, {}):
        err = envelope(httpx.post(url, json=body, headers=headers, timeout=60), 401)
        assert err["type"] in ("authentication_error", "invalid_request_error"), err
    with pytest.raises(openai.AuthenticationError) as e:
        auth_server.client(api_key="wrong-key").models.list()
    assert e.value.status_code == 401
    # The right key works, for the SDK and for raw HTTP.
    ok = auth_server.client(api_key="e2e-secret-key")
    assert model in [m.id for m in ok.models.list().data]
    r = httpx.post(url, json=body, headers={"authorization": "Bearer e2e-secret-key"}, timeout=120)
    assert r.status_code == 200, r.text


def test_429_when_queue_full():
    """One running and one queued request at most: a burst of four gets 429s with `Retry-After`."""
    srv = Server("--max-running", "1", "--max-queued", "1", name="queue").start()
    try:
        body = {"model": srv.model, "prompt": "Once upon a time", "max_tokens": 64, "ignore_eos": True}
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: httpx.post(f"{srv.url}/v1/completions", json=body, timeout=300),
                                      range(4)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) >= 1 and statuses.count(429) >= 1, statuses
        for r in responses:
            if r.status_code == 429:
                envelope(r, 429)
                assert int(r.headers["retry-after"]) >= 1, r.headers
    finally:
        code = srv.stop()
        assert code == 0, f"exit status {code}; log tail:\n{srv.log_tail()}"


@pytest.mark.parametrize("case", ["truncated-tensors", "truncated-header", "random-bytes", "empty", "missing"])
def test_broken_model_file_fails_at_start_with_a_clear_message(tmp_path, case):
    """A broken model file stops `infer serve` at once, exit status non-zero, naming the file and the fault."""
    import subprocess
    from support import INFER_BIN, MODEL
    path = tmp_path / f"{case}.gguf"
    with open(MODEL, "rb") as f:
        head = f.read(8 << 20)
    expected = {
        "truncated-tensors": (head, "lies outside the file"),      # header intact, tensor data cut off
        "truncated-header": (head[:1_000_000], "bytes remain"),   # cut inside the vocabulary
        "random-bytes": (os.urandom(4096), "not a GGUF file"),
        "empty": (b"", "file ends while reading magic"),
        "missing": (None, "No such file"),
    }[case]
    if expected[0] is not None:
        path.write_bytes(expected[0])
    done = subprocess.run([str(INFER_BIN), "serve", "--model", str(path), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stderr
    assert str(path) in done.stderr and expected[1] in done.stderr, done.stderr
    assert done.stderr.count(expected[1]) == 1, done.stderr   # said once, not repeated
