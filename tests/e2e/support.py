"""Helpers for the end-to-end tests: a real `infer serve` process on a free loopback port, long prompts.

The server binary comes from `INFER_BIN` (default `<repo>/.build/release/infer`), the model from
`INFER_MODEL` (default `<repo>/models/gemma-3-270m-q4_k_m.gguf`).

NOTE: readiness is event-driven: a thread drains the server's stderr (copying it to a log file in the
temp directory) and sets an event on the `listening on http://` line; `/health` is then checked once. No
sleeps are used as synchronisation, and a server that exits early fails the fixture with its log tail.
"""
import json
import os
import pathlib
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
INFER_BIN = pathlib.Path(os.environ.get("INFER_BIN", ROOT / ".build/release/infer"))
MODEL = pathlib.Path(os.environ.get("INFER_MODEL", ROOT / "models/gemma-3-270m-q4_k_m.gguf"))
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0

# LiteLLM must never touch the network (no cost-map download, no telemetry); set before any import of it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (the kernel picks it: bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `infer serve` process on a free port. `start()` returns once it is ready; `stop()` sends SIGTERM
    and returns the exit status."""

    def __init__(self, *extra_args, name="server", with_model=True, model_name=None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.model = model_name or MODEL.name.removesuffix(".gguf")
        self.extra_args = list(extra_args)
        self.with_model = with_model
        self.log_path = pathlib.Path(tempfile.gettempdir()) / f"infer-e2e-{name}-{self.port}.log"
        self.proc = None
        self._ready = threading.Event()
        self._saw_ready_line = False
        self._drained = threading.Event()

    def start(self):
        if not INFER_BIN.exists():
            pytest.fail(f"server binary not found: {INFER_BIN} (build it, or set INFER_BIN)")
        if not MODEL.exists():
            pytest.fail(f"model not found: {MODEL} (run models/install, or set INFER_MODEL)")
        cmd = [str(INFER_BIN), "serve", *(["--model", str(MODEL)] if self.with_model else []),
               "--host", self.host, "--port", str(self.port), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        threading.Thread(target=self._drain, daemon=True).start()
        # Wakes on the ready line or on the server's exit (the drain thread sets _ready at EOF too).
        if not self._ready.wait(READY_TIMEOUT):
            self.kill()
            pytest.fail(f"server not ready after {READY_TIMEOUT:.0f} s; log tail:\n{self.log_tail()}")
        if not self._saw_ready_line:
            code = self.proc.wait(30)  # stderr closed without the ready line: the server is exiting
            self._drained.wait(5)
            pytest.fail(f"server exited with {code} before it was ready; log tail:\n{self.log_tail()}")
        r = httpx.get(f"{self.url}/health", timeout=10)
        assert r.status_code == 200, f"/health after the ready line: {r.status_code} {r.text}"
        return self

    def _drain(self):
        with open(self.log_path, "w") as log:
            for line in self.proc.stderr:
                log.write(line)
                log.flush()
                if "listening on http://" in line:
                    self._saw_ready_line = True
                    self._ready.set()
        self._ready.set()
        self._drained.set()

    def log_tail(self, n=40):
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(keepends=True)[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        """SIGTERM, then wait up to STOP_TIMEOUT; returns the exit status (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._drained.wait(5)
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self, api_key="not-needed", **kw):
        """An official `openai` client on this server; no retries so that each test sees one request."""
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, timeout=300, **kw)


def write_config(directory, text, name="config"):
    """Writes a gateway config file `<directory>/<name>.yaml`; returns its path."""
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def read_http_response(sock):
    """Reads one HTTP/1.1 response from a raw socket until the connection closes or the declared body is
    complete; returns (status, lowercased headers, body bytes)."""
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            break
        data += part
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                           if l.lower().startswith(b"content-length:")), None)
            if length is not None and len(rest) >= length:
                break
    assert data, "the server closed the connection without a response"
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    return int(lines[0].split()[1]), headers, rest


def license_text():
    """Real English text for long prompts: Debian's license texts (aliases skipped), about 230k characters."""
    root = pathlib.Path("/usr/share/common-licenses")
    files = sorted(p for p in root.iterdir() if not p.is_symlink()) if root.is_dir() else []
    text = "\n\n".join(p.read_text(errors="replace") for p in files)
    if len(text) < 100_000:
        # Fallback for systems without base-files' license texts: varied, non-repeating sentences.
        text += "".join(f"Clause {i}: the licensee shall keep notice number {i * 7919 % 10007} intact. "
                        for i in range(3000))
    return text


def long_prompt(server, start_char, tokens=1500, api_key=None):
    """A text prompt of about `tokens` tokens of license text starting near `start_char` (so that tests
    using different offsets do not share a prefix), measured with the server's own /tokenize."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    text = license_text()[start_char:]
    # ~4 characters per token in English; cut, then trim to the target with the server's tokenizer.
    candidate = text[: tokens * 6]
    r = httpx.post(f"{server.url}/tokenize", json={"model": server.model, "prompt": candidate,
                                                   "add_special_tokens": False}, headers=headers, timeout=60)
    r.raise_for_status()
    ids = r.json()["tokens"]
    assert len(ids) >= tokens, f"not enough text for a {tokens}-token prompt ({len(ids)} tokens)"
    r = httpx.post(f"{server.url}/detokenize", json={"model": server.model, "tokens": ids[:tokens]},
                   headers=headers, timeout=60)
    r.raise_for_status()
    return r.json()["prompt"]


class RedisServer:
    """A real `redis-server` on a free loopback port (no persistence); `stop()` / `start()` again on the
    same port simulate an outage."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        import shutil
        import time
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server not found (scripts/install-deps installs it)")
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "+PONG":
                    return self
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not answer PING")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def command(self, *args):
        """One command over RESP; returns the first reply line (simple replies only)."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload.encode())
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        first = data.split(b"\r\n")[0].decode()
        if first.startswith("$") and first != "$-1":
            return data.split(b"\r\n")[1].decode()
        return first


class LoopbackUpstream:
    """A raw HTTP/1.1 upstream on a free loopback port (a remote provider we cannot reach, played by a
    socket we control): accepts connections on a thread, reads one JSON request per connection and hands it
    to `serve(conn, body)` on its own thread. `url` is its OpenAI-style base (`.../v1`)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        body = None
        try:
            body = self.read_request(conn)
            if body is not None:
                self.serve(conn, body)
        except OSError:
            pass
        finally:
            self.finish(conn, body)
            conn.close()

    def serve(self, conn, body):
        raise NotImplementedError

    def finish(self, conn, body):
        """Called before the connection is closed (e.g. to arrange a reset)."""

    @staticmethod
    def read_request(conn):
        """The JSON body of one request read from `conn` (Content-Length framing); None if it closed first."""
        data = b""
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                return None
            data += part
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += conn.recv(65536)
        return json.loads(rest[:length])


class RecordingUpstream(LoopbackUpstream):
    """An OpenAI-compatible chat upstream on loopback that answers every request with `content` and records the
    bodies it received (`received`, in order)."""

    def __init__(self, content="ok"):
        self.content = content
        self.received = []
        self.lock = threading.Lock()
        super().__init__()

    def serve(self, conn, body):
        with self.lock:
            self.received.append(body)
        payload = json.dumps({"id": "recorded", "object": "chat.completion", "created": 0, "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                           "message": {"role": "assistant", "content": self.content}}],
                              "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).encode()
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + payload)


class WebhookReceiver:
    """A webhook listener on a free loopback port (alerts): queues every JSON body POSTed to it."""

    def __init__(self):
        self.bodies = queue.Queue()
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.put(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def until(self, predicate, seconds=30):
        """Collects bodies until one satisfies `predicate`; returns everything seen."""
        seen, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                body = self.bodies.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(body)
            if predicate(body):
                return seen
        pytest.fail(f"no matching alert within {seconds} s; got {seen}")

    def wait_for(self, alert, seconds=60):
        """The first body whose `alert` is `alert` (earlier ones are dropped)."""
        return self.until(lambda body: body.get("alert") == alert, seconds)[-1]
