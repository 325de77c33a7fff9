"""The dashboard (`GET /ui`, issue 21) in a real headless Chromium (Debian's `chromium`): the page loads with
no console message at all (no error, no CSP violation), shows live numbers from `/ui/api/summary`, and the
numbers change when traffic arrives (the DOM is dumped before and after). The master key reaches the page in
a `#key=` fragment, which the browser never sends to the server; the script removes it from the address bar.

NOTE: Chromium runs with `--enable-logging=stderr --v=0`, which prints every console message (errors, CSP
violations, uncaught exceptions) as a `CONSOLE` line; the page itself logs nothing, so any such line fails
the test. A control run on a page that calls console.error proves the lines are seen. `--virtual-time-budget`
lets the page's 2 s refresh timer run a few times before the DOM is dumped.
"""
import os
import shutil
import subprocess
from html.parser import HTMLParser

import httpx
import pytest

from support import MODEL, Server, free_port

MASTER = "sk-dashboard-master"
KEY = "sk-dashboard-key"
ALIAS = '<b id="pwn">alias</b>'     # config text rendered by the page: must stay text
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args, timeout=180):
    """Runs headless Chromium; returns (stdout, the CONSOLE lines of its log)."""
    if CHROMIUM is None:
        pytest.fail("chromium not found: run scripts/install-deps (Debian package `chromium`)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--disable-background-networking", "--enable-logging=stderr", "--v=0", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def dump(url, budget_ms=7000):
    return chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", url)


class Tables(HTMLParser):
    """Rows of every table with an id: {table id: {row key: {field: text}}}, and every element id seen."""

    def __init__(self, html):
        super().__init__()
        self.tables, self.ids, self.text_of = {}, set(), {}
        self._table = self._row = self._field = self._id = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
            self._id = a["id"]
            self.text_of.setdefault(a["id"], "")
        if tag == "table":
            self._table = a.get("id")
            self.tables.setdefault(self._table, {})
        elif tag == "tr" and "data-row" in a and self._table:
            self._row = a["data-row"]
            self.tables[self._table][self._row] = {}
        elif tag == "td" and "data-field" in a and self._row is not None:
            self._field = a["data-field"]
            self.tables[self._table][self._row][self._field] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._field = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        self._id = None

    def handle_data(self, data):
        if self._field is not None:
            self.tables[self._table][self._row][self._field] += data
        if self._id is not None:
            self.text_of[self._id] += data


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, receiver):
    dead = free_port()   # nothing listens there: calls fail and a deployment cools down (not a group's only one)
    config = tmp_path_factory.mktemp("dashboard") / "config.yaml"
    config.write_text(f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
    model_info: {{input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
  - model_name: flaky
    litellm_params: {{model: openai/x, api_base: "http://127.0.0.1:{dead}/v1", api_key: unused, timeout: 5}}
    model_info: {{id: flaky-1}}
  - model_name: flaky
    litellm_params: {{model: openai/y, api_base: "http://127.0.0.1:{dead}/v1", api_key: unused, timeout: 5}}
    model_info: {{id: flaky-2}}
router_settings: {{num_retries: 0, allowed_fails: 0, cooldown_time: 600}}
litellm_settings:
  cache: true
  cache_params: {{type: local}}
keys:
  - {{key: {KEY}, alias: '{ALIAS}'}}
general_settings:
  master_key: {MASTER}
  alerting: [webhook]
  alerting_args: {{webhook_url: "{receiver.url}", evaluation_interval: 0.5}}
""")
    s = Server("--config", str(config), name="dashboard", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


def test_console_lines_are_seen():
    """The control: a page that logs an error produces a CONSOLE line (so an empty list below means something)."""
    _, console = dump("data:text/html,<script>console.error('control-error')</script>", budget_ms=500)
    assert any("control-error" in line for line in console), console


def test_dashboard_live_in_chromium(gateway, receiver, tmp_path):
    url = f"{gateway.url}/ui#key={MASTER}"
    before_html, console = dump(url)
    assert console == [], console
    before = Tables(before_html)
    assert before.text_of["status"] == "live", before_html[:2000]
    assert MASTER not in before_html
    assert before.tables["groups"]["gemma"]["requests"] == "0"
    assert before.tables["groups"]["flaky"]["requests"] == "0"
    assert before.tables["hits"]["exact"]["shown"] == "0.0%"
    assert before.tables["deployments"]["flaky-1"]["cooling"] == "no"
    assert "spend" in before.tables and not before.tables["spend"]

    # Traffic: a question twice (the second is an exact-cache hit) from the virtual key, another from the
    # master key, and two calls to the dead group (failures, then a cooldown).
    chat = lambda key, text, model="gemma": httpx.post(
        f"{gateway.url}/v1/chat/completions", timeout=120, headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 4, "temperature": 0})
    for key, text in [(KEY, "Name a colour."), (KEY, "Name a colour."), (MASTER, "Name a fruit.")]:
        r = chat(key, text)
        assert r.status_code == 200, r.text
    flaky = [chat(MASTER, "hi", model="flaky").status_code for _ in range(2)]
    assert all(code >= 500 or code == 429 for code in flaky), flaky
    cooled = receiver.wait_for("deployment_cooled_down")

    after_html, console = dump(url)
    assert console == [], console
    after = Tables(after_html)
    summary = httpx.get(f"{gateway.url}/ui/api/summary", headers={"Authorization": f"Bearer {MASTER}"}).json()
    groups = {g["model_group"]: g for g in summary["groups"]}
    assert after.tables["groups"]["gemma"]["requests"] == "3" == str(groups["gemma"]["requests"])
    assert int(after.tables["groups"]["flaky"]["failures"]) == groups["flaky"]["failures"] >= 1
    assert after.tables["groups"]["gemma"]["p50"] != "-"
    # One hit in five lookups (the flaky group's requests are looked up too).
    assert (after.tables["hits"]["exact"]["shown"], after.tables["hits"]["exact"]["hits"],
            after.tables["hits"]["exact"]["of"]) == ("20.0%", "1", "5")
    assert int(after.tables["kv-blocks"]["in_use"]["count"]) + int(after.tables["kv-blocks"]["free"]["count"]) \
        + int(after.tables["kv-blocks"]["cached_idle"]["count"]) + int(after.tables["kv-blocks"]["pinned"]["count"]) \
        == summary["kv"]["blocks"]["total"]
    failed = cooled["subject"]
    assert failed in ("flaky-1", "flaky-2")
    assert after.tables["deployments"][failed]["cooling"].endswith("s left")
    assert int(after.tables["deployments"][failed]["failures"]) >= 1
    alerts = after.tables["alerts"]
    assert alerts[f"deployment_cooled_down ({failed})"]["status"] == cooled["status"] == "firing"
    assert alerts[f"deployment_cooled_down ({failed})"]["message"] == cooled["message"]
    # Spend per key: the virtual key's alias shown as text (no element made from it), the key itself never.
    spend = {row["alias"]: row for row in after.tables["spend"].values()}
    assert spend[ALIAS]["requests"] == "2" and spend["-"]["requests"] == "1"
    assert float(spend["-"]["spent"]) > 0
    assert "pwn" not in after.ids
    assert "&lt;b id=\"pwn\"&gt;" in after_html
    assert KEY not in after_html and MASTER not in after_html

    shot = tmp_path / "dashboard.png"
    chromium("--virtual-time-budget=7000", "--window-size=1280,1500", f"--screenshot={shot}", url)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, len(png)
    if os.environ.get("INFER_DASHBOARD_SCREENSHOT"):     # how docs/dashboard.png is made
        shutil.copy(shot, os.environ["INFER_DASHBOARD_SCREENSHOT"])


def test_virtual_key_sees_the_login_form(gateway):
    html, _ = dump(f"{gateway.url}/ui#key={KEY}", budget_ms=3000)
    page = Tables(html)
    assert "master key" in page.text_of["login-error"]
    assert '<form id="login">' in html          # shown (no `hidden`)
    assert '<main id="main" hidden' in html
    assert KEY not in html


def test_summary_refuses_without_the_master_key(gateway):
    assert httpx.get(f"{gateway.url}/ui/api/summary").status_code == 401
    assert httpx.get(f"{gateway.url}/ui/api/summary", headers={"Authorization": f"Bearer {KEY}"}).status_code == 403
    page = httpx.get(f"{gateway.url}/ui")
    assert page.status_code == 200 and "script-src 'sha256-" in page.headers["content-security-policy"]
