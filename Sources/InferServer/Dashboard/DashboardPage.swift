import Crypto
import Foundation

/// The dashboard page (`GET /ui`): one self-contained HTML document (inline CSS and script, no external
/// scripts, fonts or images), compiled into the binary. It holds no data: the script asks for the master key,
/// then polls `GET /ui/api/summary` every 2 s with `Authorization: Bearer <key>` and draws the numbers.
///
/// NOTE: the inline `<style>` and `<script>` are allowed by their SHA-256 hashes in the
/// `Content-Security-Policy` (computed once from the same strings the page is built from), not by a nonce:
/// the page is static, so a hash needs no per-response templating, and `'unsafe-inline'` / `'unsafe-eval'`
/// are never granted. The script renders every value with `textContent` or on a `<canvas>`, never as markup.
///
/// The key reaches the page by a form (a password field) or a `#key=<key>` fragment, which browsers do not
/// send to servers: the script reads it, keeps it in `sessionStorage` (this tab only) and removes the
/// fragment from the address bar at once.
enum DashboardPage {
    static let html: String = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>infer dashboard</title>
        <link rel="icon" href="data:,">
        <style>\(style)</style>
        </head>
        <body>
        <header>
          <h1>infer</h1>
          <span id="status" class="pill">connecting</span>
          <span id="updated"></span>
          <button id="logout" type="button" hidden>Forget key</button>
        </header>
        <form id="login" hidden>
          <label for="key">Master key</label>
          <input id="key" type="password" autocomplete="off" spellcheck="false" required>
          <button type="submit">Open</button>
          <p id="login-error" class="bad"></p>
        </form>
        <main id="main" hidden>
          <section class="wide">
            <h2>Requests per second by group <small id="window"></small></h2>
            <canvas id="rps-chart" width="1100" height="200"></canvas>
            <table id="groups"></table>
          </section>
          <section>
            <h2>Latency p50 / p95 (ms)</h2>
            <canvas id="latency-chart" width="540" height="200"></canvas>
          </section>
          <section>
            <h2>Hit rates by layer</h2>
            <canvas id="hit-chart" width="540" height="200"></canvas>
            <table id="hits"></table>
          </section>
          <section>
            <h2>KV pool</h2>
            <canvas id="kv-chart" width="540" height="70"></canvas>
            <table id="kv-blocks"></table>
            <table id="kv-tiers"></table>
          </section>
          <section>
            <h2>Top prefixes</h2>
            <table id="prefixes"></table>
          </section>
          <section class="wide">
            <h2>Deployments</h2>
            <table id="deployments"></table>
          </section>
          <section>
            <h2>Spend by key (USD)</h2>
            <table id="spend"></table>
          </section>
          <section>
            <h2>Recent alerts</h2>
            <table id="alerts"></table>
          </section>
        </main>
        <script>\(DashboardScript.source)</script>
        </body>
        </html>
        """

    /// The page's headers: no caching, no sniffing, no framing, and the policy that allows exactly the inline
    /// style and script above and requests to this origin.
    static let contentSecurityPolicy = "default-src 'self'; script-src '\(hash(DashboardScript.source))'; "
        + "style-src '\(hash(style))'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// `sha256-<base64>` of `text` as CSP source expressions spell it.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString()
    }

    static let style = """

        :root { color-scheme: light dark; --fg: #1d2430; --muted: #667085; --bg: #f4f6f9; --card: #fff;
          --line: #d9dee7; --ok: #1a7f37; --bad: #c0362c; --warn: #b7791f; }
        @media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #98a2b3; --bg: #12151b;
          --card: #1b2029; --line: #2c3440; } }
        * { box-sizing: border-box; }
        [hidden] { display: none !important; }
        body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; gap: 12px; align-items: center; padding: 10px 20px; background: var(--card);
          border-bottom: 1px solid var(--line); }
        h1 { font-size: 18px; margin: 0; }
        h2 { font-size: 14px; margin: 0 0 8px; }
        h2 small { color: var(--muted); font-weight: normal; }
        #updated { color: var(--muted); margin-right: auto; }
        .pill { padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line); font-size: 12px; }
        .ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
        form { max-width: 360px; margin: 60px auto; padding: 20px; background: var(--card);
          border: 1px solid var(--line); border-radius: 8px; display: grid; gap: 8px; }
        input, button { font: inherit; padding: 6px 8px; }
        main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; padding: 14px 20px; }
        section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px;
          min-width: 0; overflow-x: auto; }
        section.wide { grid-column: 1 / -1; }
        canvas { width: 100%; height: auto; display: block; margin-bottom: 8px; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; margin-bottom: 6px; }
        th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { color: var(--muted); font-weight: 600; font-size: 12px; }
        td.num, th.num { text-align: right; }
        td.empty { color: var(--muted); }
        td.msg { white-space: normal; }

        """
}
