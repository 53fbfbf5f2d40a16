#!/usr/bin/env python3
"""Mount to `ready`: the embed helper (`EmbanEmbed.mount`) vs the raw iframe, in headless Chromium.

Two host pages on 127.0.0.1:<port> (another origin than the server) embed the same signed session
of the same dashboard, timed on the page's clock from the first line of its (module) script:
  - raw:    creates an iframe and sets its `src`; ends at the runtime's `ready` message;
  - helper: imports `/helper/index.js` from the server (the wasm is fetched and instantiated by
            its top-level await), calls `EmbanEmbed.mount`; ends at the helper's `ready` event.
The helper's figure is split into import (script start -> module ready, with when each of its
files finished loading) and mount -> ready. `--variants` adds two pages: the helper with
modulepreload/preload hints for its files in the host page, and the helper's glue imported with
the wasm fetch started alongside it (what a reworked entry module would do).
Runs alternate raw/helper (ABBA order), each in a fresh browser (cold cache; `--warm` reuses one
browser, so the HTTP cache is warm) after one untimed warm-up of each. Goal: helper / raw <= 1.1x.

Either against a running server:
  scripts/bench_helper_mount.py --server http://127.0.0.1:8080 --key emb_admin_... \\
      --dashboard <id> --tenant <tenant> [--runs 15]
or (no --server) starting `emban serve --demo` itself over a temp data dir, with the built runtime
(dist/) and helper (embed-helper/pkg/), and the demo dashboard:
  scripts/bench_helper_mount.py [--emban-bin $CARGO_TARGET_DIR/debug/emban] [--runs 15]
Standard library only; drives /usr/bin/chromedriver over WebDriver.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_runtime_load import Browser, call, free_port, serve_pages  # noqa: E402

HELPER_PAGE = """<!doctype html><html><head>{HINTS}</head><body style="margin:0"><div id="c" style="width:1200px"></div>
<script type="module">
window.__t = { start: performance.now() };
const [server, src] = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const { EmbanEmbed } = await import(server + '/helper/index.js');
window.__t.imported = performance.now();
const embed = EmbanEmbed.mount('#c', { embedUrl: src, minHeight: 900 });
window.__t.created = performance.now();
embed.on('ready', () => {
  if (window.__t.ready) return;
  window.__t.ready = performance.now();
  // When each of the helper's files finished loading.
  window.__t.files = Object.fromEntries(performance.getEntriesByType('resource')
    .filter((r) => r.name.includes('/helper/')).map((r) => [r.name.split('/').pop(), [r.startTime, r.responseEnd]]));
});
</script></body></html>"""

PAGES = {
    "/raw": """<!doctype html><html><body style="margin:0"><script type="module">
window.__t = { start: performance.now() };
const [server, src] = JSON.parse(decodeURIComponent(location.hash.slice(1)));
window.addEventListener('message', (e) => {
  if (e.origin === server && e.data && e.data._emban && e.data.type === 'ready' && !window.__t.ready) {
    window.__t.ready = performance.now();
  }
});
const f = document.createElement('iframe');
f.style = 'display:block;width:1200px;height:900px;border:0';
document.body.appendChild(f);
f.src = src;
window.__t.created = performance.now();
</script></body></html>""",
    "/helper": HELPER_PAGE.replace("{HINTS}", ""),
    # What an entry that fetches the wasm alongside the glue would give (index.js imports the glue
    # statically, so the wasm request starts only once embed_helper.js has loaded): the page
    # starts the wasm fetch itself, imports the glue and initialises it with that response.
    "/helper-parallel": HELPER_PAGE.replace("{HINTS}", "").replace(
        "const { EmbanEmbed } = await import(server + '/helper/index.js');",
        "const wasm = fetch(server + '/helper/embed_helper_bg.wasm');\n"
        "const glue = await import(server + '/helper/embed_helper.js');\n"
        "await glue.default({ module_or_path: wasm });\n"
        "const { EmbanEmbed } = glue;"),
    # The same with preload hints in the host page, so the helper's three files (index.js ->
    # embed_helper.js -> embed_helper_bg.wasm, otherwise found one after the other) load at once.
    "/helper-preload": HELPER_PAGE.replace("{HINTS}", """<script>
for (const [rel, file, as] of [['modulepreload', 'index.js'], ['modulepreload', 'embed_helper.js'], ['preload', 'embed_helper_bg.wasm', 'fetch']]) {
  const l = document.createElement('link');
  l.rel = rel; l.href = JSON.parse(decodeURIComponent(location.hash.slice(1)))[0] + '/helper/' + file;
  if (as) { l.as = as; l.crossOrigin = 'anonymous'; }
  document.head.appendChild(l);
}
</script>"""),
}


def start_demo_server(binary):
    """`emban serve --demo` over a temp data dir; returns (process, url, admin key, dashboard, dir)."""
    data = tempfile.mkdtemp(prefix="emban-bench-mount-")
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data, "--demo", "true",
         "--runtime-dir", os.path.join(root, "dist"), "--www-dir", os.path.join(root, "www"),
         "--helper-dir", os.path.join(root, "embed-helper", "pkg")],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "server.log"), "w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            demo = call("GET", f"{url}/v1/demo/embed-url")
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start; see {data}/server.log")
            time.sleep(0.2)
    credentials = open(os.path.join(data, "demo-credentials.txt")).read()
    key = next(line.split(":", 1)[1].strip() for line in credentials.splitlines() if line.strip().startswith("admin key:"))
    dashboard = demo["embed_url"].split("/embed/")[1].split("?")[0]
    return process, url, key, dashboard, data


def one_run(browser_or_driver, host, server, src, kind, warm):
    browser = browser_or_driver if warm else Browser(browser_or_driver)
    try:
        target = f"{host}/{kind}#" + urllib.request.quote(json.dumps([server, src]), safe="")
        if warm:
            browser.do("POST", "/url", {"url": "about:blank"})
        browser.do("POST", "/url", {"url": target})
        t = browser.wait("return window.__t && window.__t.ready && window.__t", timeout=30)
        out = {"ready": t["ready"] - t["start"], "nav_ready": t["ready"], "created": t["created"] - t["start"]}
        if kind.startswith("helper"):
            out["import"] = t["imported"] - t["start"]
            out["mount_ready"] = t["ready"] - t["created"]
            for name, (_, end) in t.get("files", {}).items():
                out[name] = end - t["start"]
        return out
    finally:
        if not warm:
            browser.close()


def summary(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return statistics.median(values), p90


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="a running server; started from --emban-bin when absent")
    parser.add_argument("--key", help="an admin API key (with --server)")
    parser.add_argument("--dashboard", help="a published dashboard (with --server)")
    parser.add_argument("--tenant", default="demo_workspace")
    parser.add_argument("--emban-bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/emban-target")), "debug", "emban"))
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each path")
    parser.add_argument("--warm", action="store_true", help="one browser for every run (warm HTTP cache)")
    parser.add_argument("--variants", action="store_true",
                        help="also time the helper with preload hints in the host page, and with the wasm fetched alongside the glue")
    args = parser.parse_args()

    started = None
    if args.server:
        if not (args.key and args.dashboard):
            parser.error("--server needs --key and --dashboard")
        server, key, dashboard = args.server.rstrip("/"), args.key, args.dashboard
    else:
        started = start_demo_server(args.emban_bin)
        _, server, key, dashboard, _ = started
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    serve_pages(port, PAGES)
    session = call(
        "POST", f"{server}/v1/embed-sessions",
        {"tenant_id": args.tenant, "dashboard_id": dashboard, "allowed_origins": [host]},
        {"Authorization": f"Bearer {key}"},
    )
    src = session["embed_url"]
    driver_port = free_port()
    driver = subprocess.Popen(["/usr/bin/chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kinds = ("raw", "helper", "helper-preload", "helper-parallel") if args.variants else ("raw", "helper")
    runs = {kind: [] for kind in kinds}
    try:
        driver_url = f"http://127.0.0.1:{driver_port}"
        for _ in range(100):
            try:
                call("GET", f"{driver_url}/status")
                break
            except OSError:
                time.sleep(0.05)
        target = Browser(driver_url) if args.warm else driver_url
        for kind in kinds:  # untimed warm-up: the server's caches, the browser's
            one_run(target, host, server, src, kind, args.warm)
        for i in range(args.runs):
            order = kinds if i % 2 == 0 else tuple(reversed(kinds))
            for kind in order:
                runs[kind].append(one_run(target, host, server, src, kind, args.warm))
        if args.warm:
            target.close()
    finally:
        driver.terminate()
        driver.wait()
        if started:
            started[0].terminate()
            started[0].wait()
            shutil.rmtree(started[4], ignore_errors=True)

    def line(label, values):
        median, p90 = summary(values)
        print(f"  {label:<34} median {median:7.1f} ms  p90 {p90:7.1f} ms")
        return median, p90

    print(f"runs: {args.runs} each, alternating; {'one warm browser' if args.warm else 'a fresh browser per run (cold cache)'}; server {server}")
    print("raw iframe:")
    raw = line("script start -> ready", [r["ready"] for r in runs["raw"]])
    line("navigation start -> ready", [r["nav_ready"] for r in runs["raw"]])
    for kind in kinds[1:]:
        print(f"{kind}:")
        helper = line("script start -> ready", [r["ready"] for r in runs[kind]])
        line("navigation start -> ready", [r["nav_ready"] for r in runs[kind]])
        line("  script start -> module ready", [r["import"] for r in runs[kind]])
        for name in ("index.js", "embed_helper.js", "embed_helper_bg.wasm"):
            ends = [r[name] for r in runs[kind] if name in r]
            if ends:
                line(f"    script start -> {name} loaded", ends)
        line("  mount() -> ready", [r["mount_ready"] for r in runs[kind]])
        ratio, ratio_p90 = helper[0] / raw[0], helper[1] / raw[1]
        print(f"ratio {kind} / raw: medians {ratio:.2f}x, p90s {ratio_p90:.2f}x (goal <= 1.1x: {'PASS' if ratio <= 1.1 else 'MISS'})")

if __name__ == "__main__":
    main()
