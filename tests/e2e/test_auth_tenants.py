"""Master key, virtual keys and tenant isolation (issue 8, first part): a server started from a config with
`general_settings.master_key` and a `keys:` list, with the in-process response cache on.
"""
import json

import httpx
import pytest

from support import MODEL, Server, license_text, write_config

MASTER = "sk-master-e2e"
KEY_A = "sk-tenant-a"
KEY_B = "sk-tenant-b"
KEY_LIMITED = "sk-limited"
KEY_RPM = "sk-rpm-2"
KEY_NS = "sk-namespaced"
# A declared public system prompt (~250 tokens) that every tenant may share.
PUBLIC_SYSTEM = license_text()[150_000:151_100]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("auth"), f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
  - model_name: other
    litellm_params: {{model: local/{MODEL}}}
litellm_settings:
  cache: true
  cache_params: {{type: local}}
general_settings:
  master_key: {MASTER}
  public_prefixes: [{json.dumps(PUBLIC_SYSTEM)}]
keys:
  - {{key: {KEY_A}, alias: tenant-a}}
  - {{key: {KEY_B}, alias: tenant-b}}
  - {{key: {KEY_LIMITED}, alias: limited, models: [other]}}
  - {{key: {KEY_RPM}, alias: rpm-limited, rpm: 2}}
  - {{key: {KEY_NS}, alias: namespaced, cache_namespace: team-ns}}
""")
    s = Server("--config", str(config), name="auth-tenants", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


def call(server, method, path, key=None, **kw):
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=120, **kw)


ROUTES = [("GET", "/v1/models", None), ("GET", "/v1/models/gemma", None),
          ("POST", "/v1/chat/completions", {"model": "gemma", "messages": [{"role": "user", "content": "Hi"}],
                                            "max_tokens": 1}),
          ("POST", "/v1/completions", {"model": "gemma", "prompt": "Hi", "max_tokens": 1}),
          ("POST", "/tokenize", {"prompt": "Hi"}), ("POST", "/detokenize", {"tokens": [2]}),
          ("GET", "/cache/stats", None), ("GET", "/cache/ping", None), ("POST", "/cache/flushall", None),
          ("GET", "/prefix_cache/stats", None), ("POST", "/prefix_cache/reset", {})]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_unauthenticated_and_wrong_key_rejected(secured, method, path, body):
    for key in (None, "sk-wrong", MASTER + "x"):
        r = call(secured, method, path, key, json=body)
        assert r.status_code == 401, (key, r.text)
        err = r.json()["error"]
        assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error"
    assert call(secured, "GET", "/health").status_code == 200   # probes stay open


@pytest.mark.parametrize("method,path,body", ROUTES[:6])
def test_every_key_is_accepted(secured, method, path, body):
    for key in (MASTER, KEY_A, KEY_B):
        assert call(secured, method, path, key, json=body).status_code == 200


def test_model_restriction_and_admin_need_master(secured):
    body = {"model": "gemma", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    r = call(secured, "POST", "/v1/chat/completions", KEY_LIMITED, json=body)
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    assert call(secured, "POST", "/v1/chat/completions", KEY_LIMITED, json=dict(body, model="other")).status_code == 200
    assert call(secured, "GET", "/cache/stats", KEY_A).status_code == 403
    assert call(secured, "GET", "/cache/stats", MASTER).status_code == 200
    assert call(secured, "GET", "/prefix_cache/stats", KEY_A).status_code == 403
    assert call(secured, "POST", "/prefix_cache/reset", KEY_A, json={}).status_code == 403
    assert call(secured, "GET", "/prefix_cache/stats", MASTER).status_code == 200


def test_tenant_b_gets_no_prefix_hit_on_tenant_a_prompt(secured):
    document = license_text()[120_000:124_000]   # about 900 tokens of prose nobody else uses
    body = {"model": "gemma", "prompt": document, "max_tokens": 1, "cache": {"no-store": True}}
    a1 = call(secured, "POST", "/v1/completions", KEY_A, json=body).json()
    a2 = call(secured, "POST", "/v1/completions", KEY_A, json=body).json()
    b1 = call(secured, "POST", "/v1/completions", KEY_B, json=body).json()
    assert a1["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert a2["usage"]["prompt_tokens_details"]["cached_tokens"] >= 700
    assert b1["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_tenant_b_never_receives_tenant_a_cached_response(secured):
    body = {"model": "gemma", "messages": [{"role": "user", "content": "Tell me a secret of tenant A."}],
            "max_tokens": 6, "temperature": 0}
    ra1 = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    ra2 = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    rb = call(secured, "POST", "/v1/chat/completions", KEY_B, json=body)
    assert ra1.headers["x-cache"] == "MISS" and ra2.headers["x-cache"] == "HIT"
    assert rb.headers["x-cache"] == "MISS"
    assert rb.headers.get("x-litellm-cache-key") is None


def test_public_prefix_shared_private_part_isolated(secured):
    private = license_text()[160_000:161_400]   # ~300 tokens only tenant A has sent
    body = {"model": "gemma", "max_tokens": 1, "cache": {"no-store": True},
            "messages": [{"role": "system", "content": PUBLIC_SYSTEM}, {"role": "user", "content": private}]}
    usage = lambda r: r.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    a1 = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    a2 = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    b = call(secured, "POST", "/v1/chat/completions", KEY_B, json=body)
    assert a1.status_code == a2.status_code == b.status_code == 200
    prompt_tokens = a2.json()["usage"]["prompt_tokens"]
    # A hits its whole prompt (all but the last, partial block); B hits only the public system prompt.
    assert usage(a2) >= prompt_tokens - 32
    assert 160 <= usage(b) < usage(a2) - 200, (usage(b), usage(a2))


def test_per_key_rpm_limit(secured):
    body = {"model": "gemma", "prompt": "Count: one two", "max_tokens": 1}
    codes = [call(secured, "POST", "/v1/completions", KEY_RPM, json=body).status_code for _ in range(2)]
    assert codes == [200, 200]
    r = call(secured, "POST", "/v1/completions", KEY_RPM, json=body)
    if r.status_code == 200:   # the minute window turned between the calls: the next ones must be limited
        call(secured, "POST", "/v1/completions", KEY_RPM, json=body)
        r = call(secured, "POST", "/v1/completions", KEY_RPM, json=body)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["type"] == "rate_limit_error" and 1 <= int(r.headers["retry-after"]) <= 60
    # Other keys are not affected.
    assert call(secured, "POST", "/v1/completions", KEY_A, json=body).status_code == 200


def test_key_cache_namespace_prefixes_its_entries(secured):
    body = {"model": "gemma", "messages": [{"role": "user", "content": "Name one colour."}], "max_tokens": 3,
            "temperature": 0}
    first = call(secured, "POST", "/v1/chat/completions", KEY_NS, json=body)
    hit = call(secured, "POST", "/v1/chat/completions", KEY_NS, json=body)
    other = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    other_hit = call(secured, "POST", "/v1/chat/completions", KEY_A, json=body)
    assert first.headers["x-cache"] == "MISS" and hit.headers["x-cache"] == "HIT"
    assert hit.headers["x-litellm-cache-key"].startswith("team-ns:")
    assert other.headers["x-cache"] == "MISS" and other_hit.headers["x-cache"] == "HIT"
    assert not other_hit.headers["x-litellm-cache-key"].startswith("team-ns:")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Two virtual keys with `tenant_isolation: false`: they share the prefix and response caches."""
    config = write_config(tmp_path_factory.mktemp("shared"), f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
litellm_settings:
  cache: true
  cache_params: {{type: local}}
general_settings:
  master_key: {MASTER}
  tenant_isolation: false
keys:
  - {{key: {KEY_A}, alias: tenant-a}}
  - {{key: {KEY_B}, alias: tenant-b}}
""")
    s = Server("--config", str(config), name="shared-tenants", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


def test_without_tenant_isolation_keys_share_caches(shared):
    document = license_text()[130_000:133_000]
    body = {"model": "gemma", "prompt": document, "max_tokens": 1, "cache": {"no-store": True}}
    a = call(shared, "POST", "/v1/completions", KEY_A, json=body).json()
    b = call(shared, "POST", "/v1/completions", KEY_B, json=body).json()
    assert a["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert b["usage"]["prompt_tokens_details"]["cached_tokens"] >= 500
    chat = {"model": "gemma", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 3}
    ra = call(shared, "POST", "/v1/chat/completions", KEY_A, json=chat)
    rb = call(shared, "POST", "/v1/chat/completions", KEY_B, json=chat)
    assert ra.headers["x-cache"] == "MISS" and rb.headers["x-cache"] == "HIT"
    assert rb.json()["choices"][0]["message"]["content"] == ra.json()["choices"][0]["message"]["content"]
