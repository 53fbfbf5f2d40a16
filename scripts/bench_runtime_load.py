#!/usr/bin/env python3
"""Embed runtime load time in headless Chromium, framed by a host page on another origin.

For each run, in a fresh browser: a host page on localhost:<port> (another site than the server
on 127.0.0.1, as a customer's page is; `--same-site` puts it on 127.0.0.1) sets an iframe's `src` to a
signed embed URL and records, on one clock (`performance.timeOrigin` + `now()`):
  - ready:   the runtime's `ready` message arrives (issue 14 goals: p50 <= 150 ms, p90 <= 250 ms);
  - painted: the runtime's `emban:painted` performance mark, made in the frame after every widget
             rendered its first answer (issue 14 goals: p50 <= 300 ms, p90 <= 450 ms);
  - bytes:   what the frame loaded until painted, counted by the browser (encoded body sizes of
             the document and every resource; issue 14 goal: at most 150 KB);
  - empty:   the same iframe loading an empty page of the same server (`/healthz`), for the ratio.

Needs a running server (`scripts/run.sh`) with a published dashboard and an admin key:
  scripts/bench_runtime_load.py --server http://127.0.0.1:8080 --key emb_admin_... \
      --dashboard <id> --tenant <tenant> [--runs 10]
Standard library only; drives /usr/bin/chromedriver over WebDriver.
"""

import argparse
import http.server
import json
import socket
import statistics
import subprocess
import threading
import time
import urllib.request

HOST_PAGE = """<!doctype html><html><body><script>
window.__t = {};
window.addEventListener('message', (e) => {
  if (e.data && e.data._emban && e.data.type === 'ready' && !window.__t.ready) {
    window.__t.ready = performance.timeOrigin + performance.now();
  }
});
const f = document.createElement('iframe');
f.style = 'width:1200px;height:900px;border:0';
f.addEventListener('load', () => { window.__t.load = performance.timeOrigin + performance.now(); });
document.body.appendChild(f);
window.__t.start = performance.timeOrigin + performance.now();
f.src = decodeURIComponent(location.hash.slice(1));
</script></body></html>"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_pages(port, pages):
    """Serves `pages` ({path: html}) on 127.0.0.1:`port`, uncached; the rest is a 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("#")[0].split("?")[0])
            if body is None:
                self.send_error(404)
                return
            body = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


class Browser:
    def __init__(self, driver):
        options = json.load(open("embed-runtime/webdriver.json"))["goog:chromeOptions"]
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": options["args"] + ["--window-size=1300,1000"]}}}}
        self.base = driver
        self.session = call("POST", f"{driver}/session", caps)["value"]["sessionId"]

    def do(self, method, path, body=None):
        return call(method, f"{self.base}/session/{self.session}{path}", body)["value"]

    def js(self, script):
        return self.do("POST", "/execute/sync", {"script": script, "args": []})

    def wait(self, script, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.01)
        raise TimeoutError(script)

    def close(self):
        call("DELETE", f"{self.base}/session/{self.session}")


def one_run(driver, host, src, want_paint):
    browser = Browser(driver)
    try:
        browser.do("POST", "/url", {"url": f"{host}/#" + urllib.request.quote(src, safe="")})
        if not want_paint:
            start, load = browser.wait("return window.__t.load && [window.__t.start, window.__t.load]")
            return {"empty": load - start}
        start, ready = browser.wait("return window.__t.ready && [window.__t.start, window.__t.ready]")
        frame = browser.do("POST", "/element", {"using": "css selector", "value": "iframe"})
        browser.do("POST", "/frame", {"id": frame})
        painted = browser.wait(
            "const m = performance.getEntriesByName('emban:painted')[0];"
            "return m && performance.timeOrigin + m.startTime"
        )
        # Where the time went, on the same clock: when each of the frame's requests ended, and
        # when the runtime marked `ready`.
        phases = browser.js(
            "const t = (x) => performance.timeOrigin + x;"
            "const out = {navigation: performance.timeOrigin};"
            "const nav = performance.getEntriesByType('navigation')[0];"
            "if (nav) out.html = t(nav.responseEnd);"
            "for (const e of performance.getEntriesByType('resource')) {"
            "  const k = e.name.endsWith('.wasm') ? 'wasm' : e.name.endsWith('.js') ? 'js'"
            "    : e.name.endsWith('.css') ? 'css' : e.name.includes('/v1/embed/dashboard') ? 'dashboard' : null;"
            "  if (k && !out[k]) { out[k] = t(e.responseEnd); if (k === 'dashboard') out.dashboard_start = t(e.startTime); }"
            "}"
            "const m = performance.getEntriesByName('emban:ready')[0]; if (m) out.ready_mark = t(m.startTime);"
            "return out;"
        )
        # What the frame loaded from the server until painted: every entry's body as sent
        # (compressed) and as decoded, the HTML document included.
        loaded = browser.js(
            "const all = performance.getEntriesByType('navigation')"
            "  .concat(performance.getEntriesByType('resource'));"
            "return all.map(e => [e.name.split('?')[0].split('/').pop() || e.name,"
            "  e.encodedBodySize, e.decodedBodySize]);"
        )
        out = {"ready": ready - start, "painted": painted - start, "loaded": loaded or []}
        out.update({f"phase_{k}": v - start for k, v in (phases or {}).items() if isinstance(v, (int, float))})
        return out
    finally:
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--key", required=True, help="an admin API key")
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--same-site",
        action="store_true",
        help="host page on 127.0.0.1 like the server (another origin, same site: Chromium then runs "
        "host and frame on one main thread); default: on localhost, another site, as a customer's "
        "page and an Emban server are",
    )
    args = parser.parse_args()

    port = free_port()
    host = f"http://{'127.0.0.1' if args.same_site else 'localhost'}:{port}"
    serve_pages(port, {"/": HOST_PAGE})
    session = call(
        "POST",
        f"{args.server}/v1/embed-sessions",
        {"tenant_id": args.tenant, "dashboard_id": args.dashboard, "allowed_origins": [host]},
        {"Authorization": f"Bearer {args.key}"},
    )
    driver_port = free_port()
    driver = subprocess.Popen(["/usr/bin/chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        driver_url = f"http://127.0.0.1:{driver_port}"
        for _ in range(100):
            try:
                call("GET", f"{driver_url}/status")
                break
            except OSError:
                time.sleep(0.05)
        one_run(driver_url, host, session["embed_url"], True)  # warm the server's caches
        runs = [one_run(driver_url, host, session["embed_url"], True) for _ in range(args.runs)]
        empties = [one_run(driver_url, host, f"{args.server}/healthz", False)["empty"] for _ in range(args.runs)]
    finally:
        driver.terminate()
        driver.wait()

    def summary(values):
        values = sorted(values)
        pick = lambda q: values[min(len(values) - 1, round(q * (len(values) - 1)))]  # noqa: E731
        return statistics.median(values), pick(0.90), pick(0.95)

    ready = summary([r["ready"] for r in runs])
    painted = summary([r["painted"] for r in runs])
    empty = summary(empties)
    print(f"runs: {args.runs} (fresh browser each; cold browser cache, warm server)")
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print(f"iframe src -> ready:   median {ready[0]:7.1f} ms  p90 {ready[1]:7.1f} ms  p95 {ready[2]:7.1f} ms  "
          f"(issue 14 goals: p50 <= 150 ms {verdict(ready[0] <= 150)}, p90 <= 250 ms {verdict(ready[1] <= 250)})")
    print(f"iframe src -> painted: median {painted[0]:7.1f} ms  p90 {painted[1]:7.1f} ms  p95 {painted[2]:7.1f} ms  "
          f"(issue 14 goals: p50 <= 300 ms {verdict(painted[0] <= 300)}, p90 <= 450 ms {verdict(painted[1] <= 450)})")
    print(f"iframe src -> empty page load: median {empty[0]:7.1f} ms  p90 {empty[1]:7.1f} ms  p95 {empty[2]:7.1f} ms")
    print(f"ratio ready / empty (medians): {ready[0] / empty[0]:.1f}x; painted / empty: {painted[0] / empty[0]:.1f}x")
    # The frame's resources as the browser counted them (the last run; every run loads the same).
    loaded = runs[-1]["loaded"]
    sent = sum(e[1] for e in loaded)
    print(f"frame resources until painted: {len(loaded)} entries, {sent:,} B over the wire "
          f"(bodies as sent), {sum(e[2] for e in loaded):,} B decoded "
          f"(issue 14 goal <= 150,000 B: {verdict(sent <= 150_000)})")
    for name, encoded, decoded in loaded:
        print(f"  {name[:48]:48} {encoded:>9,} B sent  {decoded:>9,} B decoded")
    print("where ready's time goes (median ms after the iframe's src was set; request ends unless noted):")
    for key in ["navigation", "html", "css", "js", "wasm", "dashboard_start", "dashboard", "ready_mark"]:
        values = [r[f"phase_{key}"] for r in runs if f"phase_{key}" in r]
        if values:
            print(f"  {key:16} {statistics.median(values):7.1f}")

if __name__ == "__main__":
    main()
