"""Vision-to-text cascade (issue 20): a request with image parts for a text-only group has each image described
by the vision group and replaced by the description; the text model answers. Stubs on loopback: a vision
upstream that returns a fixed description and records what it was sent, a text upstream that records what it
received, and an image server (served files, a redirect, a redirect loop, an HTML page, oversized images with
and without Content-Length). Two gateways: one with `allow_private_image_urls: true` (to fetch from the
loopback image server), one without (the refusal)."""
import base64
import http.server
import threading

import httpx
import openai
import pytest

from support import RecordingUpstream, Server, write_config

DESCRIPTION = "A red square with the word HELLO in white letters."
PROMPT = "Describe the picture for a blind reader."
# A real 1x1 PNG (the bytes are what matters: the gateway hashes and re-encodes them).
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
OTHER_PNG = PNG[:-4] + b"\x00\x00\x00\x01"
VISION_INPUT, VISION_OUTPUT = 0.000001, 0.000002
LIMIT = 64 * 1024   # max_image_mb: 0.0625
# Redirects whose target must be refused although the first hop was allowed: every hop is checked again.
REDIRECTS = {"/to-ftp": "ftp://127.0.0.1/cat.png", "/to-file": "file:///etc/passwd",
             "/to-credentials": "http://user:secret@127.0.0.1:1/cat.png"}


class ImageServer:
    """http.server on loopback; counts requests per path."""

    def __init__(self):
        hits = self.hits = {}
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with lock:
                    hits[self.path] = hits.get(self.path, 0) + 1
                if self.path == "/cat.png":
                    self.reply(200, "image/png", PNG)
                elif self.path == "/other.png":
                    self.reply(200, "image/png; charset=binary", OTHER_PNG)
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/other.png")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path in REDIRECTS:
                    self.send_response(302)
                    self.send_header("Location", REDIRECTS[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/page.html":
                    self.reply(200, "text/html", b"<html>not an image</html>")
                elif self.path == "/big.png":
                    self.reply(200, "image/png", b"\x89PNG" + b"\x00" * (LIMIT + 1))
                elif self.path == "/endless.png":
                    # No Content-Length: the size is only known while reading; the gateway must stop at the limit.
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for _ in range(64):
                            self.wfile.write(b"\x00" * 16384)
                    except OSError:
                        pass
                else:
                    self.reply(404, "text/plain", b"missing")

            def reply(self, status, ctype, body):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def stubs():
    vision, text, images = RecordingUpstream(DESCRIPTION), RecordingUpstream("It says HELLO."), ImageServer()
    yield vision, text, images
    vision.close()
    text.close()
    images.close()


def config(stubs, allow_private):
    vision, text, _ = stubs
    return f"""
model_list:
  - model_name: text
    litellm_params: {{model: openai/text-model, api_base: "{text.url}", api_key: sk-x}}
  - model_name: vision
    litellm_params: {{model: openai/vision-model, api_base: "{vision.url}", api_key: sk-x}}
    model_info: {{supports_vision: true, input_cost_per_token: {VISION_INPUT}, output_cost_per_token: {VISION_OUTPUT}}}
router_settings:
  num_retries: 0
  vision_fallback: vision
  vision_settings:
    description_prompt: "{PROMPT}"
    max_image_mb: 0.0625
    max_redirects: 2
    fetch_timeout: 10
    allow_private_image_urls: {str(allow_private).lower()}
"""


@pytest.fixture(scope="module")
def gateway(stubs, tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp("vision"), config(stubs, True))
    s = Server("--config", str(path), name="vision", with_model=False, model_name="text").start()
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def strict_gateway(stubs, tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp("vision-strict"), config(stubs, False))
    s = Server("--config", str(path), name="vision-strict", with_model=False, model_name="text").start()
    yield s
    assert s.stop() == 0


def data_url(data, mime="image/png"):
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def ask(server, url, model="text"):
    messages = [{"role": "user", "content": [{"type": "text", "text": "What does the image say?"},
                                             {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}]
    raw = server.client().chat.completions.with_raw_response.create(model=model, messages=messages, max_tokens=8)
    return raw.headers, raw.parse()


def refusal(server, url):
    with pytest.raises(openai.BadRequestError) as e:
        ask(server, url)
    error = e.value.body
    assert error["code"] == "invalid_image"
    assert error["param"] == "messages[0].content[1].image_url.url"
    return error["message"]


def described_image(vision_body):
    """The prompt and the image bytes one description request carried."""
    (message,) = vision_body["messages"]
    prompt, image = message["content"]
    assert image["type"] == "image_url"
    head, _, payload = image["image_url"]["url"].partition(",")
    assert head == "data:image/png;base64"
    return prompt["text"], base64.b64decode(payload)


def test_data_url_image_is_described_then_cached(gateway, stubs):
    vision, text, _ = stubs
    before = len(vision.received)
    headers, reply = ask(gateway, data_url(PNG))
    assert reply.choices[0].message.content == "It says HELLO."
    assert headers["x-vision-fallback"] == "vision; images=1; cached=0"
    assert len(vision.received) == before + 1
    prompt, image = described_image(vision.received[-1])
    assert prompt == PROMPT and image == PNG
    assert vision.received[-1]["model"] == "vision-model"
    assert text.received[-1]["model"] == "text-model"
    assert text.received[-1]["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What does the image say?"},
        {"type": "text", "text": f"[Image: {DESCRIPTION}]"}]}]

    # The same image again (another spelling of its media type): described from the cache, the vision stub not called.
    headers, _ = ask(gateway, data_url(PNG, "IMAGE/PNG"))
    assert headers["x-vision-fallback"] == "vision; images=1; cached=1"
    assert len(vision.received) == before + 1
    assert text.received[-1]["messages"][0]["content"][1]["text"] == f"[Image: {DESCRIPTION}]"


def test_url_image_fetched_from_loopback_when_allowed(gateway, stubs):
    vision, text, images = stubs
    headers, _ = ask(gateway, images.base + "/cat.png")
    assert images.hits.get("/cat.png") == 1
    # Same bytes as the data URL test: a cache hit, whatever way the image came.
    assert headers["x-vision-fallback"] == "vision; images=1; cached=1"
    before = len(vision.received)
    headers, _ = ask(gateway, images.base + "/redirect")
    assert headers["x-vision-fallback"] == "vision; images=1; cached=0"
    assert images.hits.get("/redirect") == 1 and images.hits.get("/other.png") == 1
    assert len(vision.received) == before + 1
    assert described_image(vision.received[-1])[1] == OTHER_PNG
    assert text.received[-1]["messages"][0]["content"][1] == {"type": "text", "text": f"[Image: {DESCRIPTION}]"}


def test_bad_images_are_400s(gateway, stubs):
    vision, text, images = stubs
    calls = len(vision.received), len(text.received)
    assert "content type must be image/*, got 'text/html'" in refusal(gateway, images.base + "/page.html")
    assert f"larger than the limit of {LIMIT} bytes" in refusal(gateway, images.base + "/big.png")
    assert f"larger than the limit of {LIMIT} bytes" in refusal(gateway, images.base + "/endless.png")
    assert "redirected more than 2 times" in refusal(gateway, images.base + "/loop")
    assert images.hits["/loop"] == 3
    assert "HTTP 404" in refusal(gateway, images.base + "/nothing.png")
    assert "scheme must be http or https, got 'ftp'" in refusal(gateway, images.base + "/to-ftp")
    assert "scheme must be http or https, got 'file'" in refusal(gateway, images.base + "/to-file")
    assert "must not carry credentials" in refusal(gateway, images.base + "/to-credentials")
    assert all(images.hits[path] == 1 for path in REDIRECTS)
    assert "scheme must be http or https" in refusal(gateway, "file:///etc/passwd")
    assert "must be image/*" in refusal(gateway, data_url(PNG, "text/plain"))
    assert "larger than the limit" in refusal(gateway, data_url(b"\x00" * (LIMIT + 1)))
    assert "not valid base64" in refusal(gateway, "data:image/png;base64,####")
    assert (len(vision.received), len(text.received)) == calls


def test_private_addresses_refused_by_default(strict_gateway, stubs):
    vision, text, images = stubs
    hits = dict(images.hits)
    calls = len(vision.received), len(text.received)
    port = images.base.rsplit(":", 1)[1]
    for url in [images.base + "/cat.png", f"http://localhost:{port}/cat.png", f"http://[::ffff:127.0.0.1]:{port}/cat.png",
                f"http://2130706433:{port}/cat.png", "http://169.254.169.254/latest/meta-data/"]:
        message = refusal(strict_gateway, url)
        assert "allow_private_image_urls" in message, message
    assert images.hits == hits
    assert (len(vision.received), len(text.received)) == calls
    # Inline images need no fetch and still work.
    headers, _ = ask(strict_gateway, data_url(OTHER_PNG))
    assert headers["x-vision-fallback"].startswith("vision; images=1")


def test_vision_group_gets_images_untouched(gateway, stubs):
    vision, _, _ = stubs
    url = data_url(PNG)
    headers, reply = ask(gateway, url, model="vision")
    assert "x-vision-fallback" not in headers
    assert reply.choices[0].message.content == DESCRIPTION
    assert vision.received[-1]["messages"][0]["content"][1]["image_url"]["url"] == url


def spend(server, group):
    rows = httpx.get(f"{server.url}/global/spend/models", timeout=30).json()
    row = next((r for r in rows if r["model"] == group), {"requests": 0, "total_spend": 0.0})
    return row["requests"], row["total_spend"]


def test_descriptions_are_priced_and_recorded_under_the_vision_group(gateway, stubs):
    before = spend(gateway, "vision")
    # Two new images in one request: two descriptions (the stub reports 10 prompt + 5 completion tokens each).
    third, fourth = PNG[:-4] + b"\x00\x00\x00\x03", PNG[:-4] + b"\x00\x00\x00\x04"
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(third)}},
                                             {"type": "image_url", "image_url": {"url": data_url(fourth)}}]}]
    raw = gateway.client().chat.completions.with_raw_response.create(model="text", messages=messages, max_tokens=8)
    assert raw.headers["x-vision-fallback"] == "vision; images=2; cached=0"
    requests, total = spend(gateway, "vision")
    assert requests == before[0] + 2
    assert total == pytest.approx(before[1] + 2 * (10 * VISION_INPUT + 5 * VISION_OUTPUT), rel=1e-9)
