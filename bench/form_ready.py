"""Benchmark (not a test): how soon Add Incident is ready on a slow link, cold and warm.

    .venv/bin/python -m bench.form_ready                    # this tree, 3 runs
    .venv/bin/python -m bench.form_ready --trees /work/main .   # before and after, same run
    .venv/bin/python -m bench.form_ready --waterfall        # each request's start and end

Makes a throw-away PostgreSQL database beside DATABASE_URL (as `bench.http` does), seeds the
demo school, starts gunicorn (with Procfile's `web` options) on each tree in turn and
opens `/incidents/new` as a signed-in teacher in /usr/bin/chromium, on the link Lighthouse's
mobile defaults assume:
150 ms round trip, 1.6 Mbps down, 750 Kbps up, the CPU slowed 4x.

The link is a small proxy in front of gunicorn (every request the browser or its service
worker makes goes through it; DevTools' own throttling would miss the service worker's
fetches): each direction is a queue at the link's rate, every chunk arrives half a round trip
after it leaves, and a new connection pays one round trip before its first byte. `--link cdp`
uses DevTools' `Network.emulateNetworkConditions` on the page instead (no connection cost, no
service worker). The CPU is slowed with `Emulation.setCPUThrottlingRate`.

Each run is two visits in a fresh browser profile: cold (nothing cached, the device not yet
enrolled) and second (the same profile after the first visit settled: service worker, HTTP
cache and device keys in place). Printed per visit: first contentful paint, form ready (the
page's `data-incident-form="ready"`), and the requests that reached the server from the start
of the visit until two seconds after ready, with bytes on the wire and how many were static
files. Figures vary with the machine; they are printed, never asserted.
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import shlex
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.http import TREE, app_environment, bench_database, gunicorn, seed, session_cookie

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
IPAD_PORTRAIT = {"width": 820, "height": 1180}
PAGE = "/incidents/new"
SETTLE_S = 2.0
READY_MARK = "haven:incident-form-ready"
# Set before the page's own scripts: when the form said it was ready, in the page's clock.
READY_PROBE = """
new MutationObserver(() => {
  if (document.documentElement.dataset.incidentForm === 'ready' && !window.__formReady) {
    window.__formReady = performance.now();
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-incident-form'] });
"""


# --- The slow link ----------------------------------------------------------------------------


class Link:
    """One shared link: a queue per direction at its rate, then half a round trip in flight."""

    def __init__(self, rtt_ms: float, down_kbps: float, up_kbps: float):
        self.half_rtt = rtt_ms / 2000
        self.rate = {"down": down_kbps * 125, "up": up_kbps * 125}  # bytes per second
        self.free = {"down": 0.0, "up": 0.0}

    def arrival(self, direction: str, size: int, earliest: float = 0.0) -> float:
        start = max(time.monotonic(), earliest, self.free[direction])
        self.free[direction] = start + size / self.rate[direction]
        return self.free[direction] + self.half_rtt


class SlowProxy:
    def __init__(self, link: Link, listen_port: int, upstream_port: int):
        self.link, self.listen_port, self.upstream_port = link, listen_port, upstream_port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "localhost", self.listen_port)
        )
        self.ready.set()
        self.loop.run_forever()

    async def _connection(self, client_reader, client_writer):
        # The TCP handshake takes a round trip before the browser can send; the server sees
        # the connection (and a sync worker is taken) only when the request reaches it.
        connected = time.monotonic() + 2 * self.link.half_rtt
        first = await client_reader.read(16384)
        if not first:
            client_writer.close()
            return
        due = self.link.arrival("up", len(first), connected)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
        except OSError:
            client_writer.close()
            return
        upstream_writer.write(first)
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, "up"),
            self._pipe(upstream_reader, client_writer, "down"),
        )

    async def _pipe(self, reader, writer, direction: str):
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(16384):
                queue.put_nowait((self.link.arrival(direction, len(data)), data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait(None)
        try:
            await delivering
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


# --- gunicorn -----------------------------------------------------------------------------


def procfile_web_options(tree: Path) -> list[str]:
    """The worker options of the tree's own Procfile `web` line (what comes before --bind), so
    that each tree is measured as a school would run it."""
    web = re.search(r"^web: (.*)$", (tree / "Procfile").read_text(), re.M).group(1)
    words = shlex.split(web)
    return words[1 : words.index("--bind")]


def warm_up(port: int, cookie: str) -> None:
    """Each worker's first page compiles its templates: not what a visit costs."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{PAGE}", headers={"Cookie": cookie})
    for _ in range(8):
        urllib.request.urlopen(request, timeout=30).read()  # noqa: S310


def log_lines(access_log: Path, start: int) -> tuple[list[tuple[str, str, int, int]], int]:
    """The requests logged since byte `start`: (method, path, status, bytes), and the new end."""
    data = access_log.read_bytes()
    rows = []
    for line in data[start:].decode().splitlines():
        method, path, status, size = line.split()
        rows.append((method, path, int(status), 0 if size == "-" else int(size)))
    return rows, len(data)


# --- One visit ------------------------------------------------------------------------------


def throttle(page, args, waterfall: list | None):
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.cpu})
    if args.link == "cdp" or waterfall is not None:
        cdp.send("Network.enable")
    if args.link == "cdp":
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": args.rtt,
            "downloadThroughput": args.down * 125, "uploadThroughput": args.up * 125,
        })  # fmt: skip
    if waterfall is not None:
        started = {}

        def sent(event):
            started[event["requestId"]] = (event["timestamp"], event["request"]["url"])

        def received(event):
            if event["requestId"] in started:
                source = (
                    "sw"
                    if event["response"].get("fromServiceWorker")
                    else ("cache" if event["response"].get("fromDiskCache") else "net")
                )
                started[event["requestId"]] += (source,)

        def finished(event):
            if event["requestId"] in started:
                waterfall.append((*started.pop(event["requestId"]), event["timestamp"]))

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.responseReceived", received)
        cdp.on("Network.loadingFinished", finished)
    return cdp


def visit(context, base: str, args, access_log: Path) -> dict:
    page = context.new_page()
    page.set_default_timeout(60_000)
    waterfall = [] if args.waterfall else None
    throttle(page, args, waterfall)
    _rows, start = log_lines(access_log, 0)
    page.goto(base + PAGE, wait_until="commit")
    page.wait_for_selector("html[data-incident-form=ready]", state="attached", timeout=60_000)
    page.wait_for_timeout(SETTLE_S * 1000)
    figures = page.evaluate("""() => ({
        ready: window.__formReady,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    })""")
    rows, _end = log_lines(access_log, start)
    figures["requests"] = len(rows)
    figures["static"] = sum(1 for r in rows if r[1].startswith("/static/"))
    figures["kib"] = sum(r[3] for r in rows) / 1024
    figures["paths"] = rows
    if waterfall is not None:
        figures["waterfall"] = waterfall
    page.close()
    return figures


def run_once(browser, base: str, cookie: str, args, access_log: Path) -> dict:
    name, value = cookie.split("=", 1)
    context = browser.new_context(viewport=IPAD_PORTRAIT, has_touch=True)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    context.add_init_script(READY_PROBE)
    try:
        cold = visit(context, base, args, access_log)
        # The first visit's background work (enrolment, the service worker's precache) done.
        page = context.new_page()
        page.goto(base + "/offline")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_timeout(3000)
        page.close()
        second = visit(context, base, args, access_log)
    finally:
        context.close()
    return {"cold": cold, "second": second}


# --- Lighthouse ---------------------------------------------------------------------------


def lighthouse(binary: str, url: str, cookie: str) -> dict:
    """One Lighthouse run (mobile defaults, DevTools throttling so the page's own timings are
    throttled too), cold: Lighthouse resets storage first."""
    command = [
        binary, url, "--quiet", "--output=json", "--output-path=stdout",
        "--only-categories=performance", "--throttling-method=devtools",
        f"--extra-headers={json.dumps({'Cookie': cookie})}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 (our own command line)
        command, env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True,
        timeout=600, check=True,
    )  # fmt: skip
    audits = json.loads(result.stdout)["audits"]
    marks = audits.get("user-timings", {}).get("details", {}).get("items", [])
    return {
        "fcp": audits["first-contentful-paint"]["numericValue"],
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "requests": len(audits["network-requests"]["details"]["items"]),
        "kib": audits["total-byte-weight"]["numericValue"] / 1024,
        "ready": next((m["startTime"] for m in marks if m["name"] == READY_MARK), None),
    }


# --- Printing -------------------------------------------------------------------------------


def describe(label: str, visits: list[dict]) -> str:
    med = lambda key: statistics.median(v[key] for v in visits)  # noqa: E731
    each = " ".join(f"{v['ready'] / 1000:.2f}" for v in visits)
    return (
        f"  {label:<7} ready {med('ready') / 1000:5.2f} s (runs: {each})   "
        f"first paint {med('fcp') / 1000:5.2f} s   requests {med('requests'):4.0f} "
        f"(static {med('static'):.0f})   {med('kib'):6.1f} KiB"
    )


def describe_lighthouse(runs: list[dict]) -> str:
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    ready = [r["ready"] for r in runs if r["ready"] is not None]
    shown = f"{statistics.median(ready) / 1000:5.2f} s" if ready else "  (no mark)"
    return (
        f"  lighthouse (cold, DevTools throttling) form ready {shown}   first paint "
        f"{med('fcp') / 1000:5.2f} s   LCP {med('lcp') / 1000:5.2f} s   requests "
        f"{med('requests'):.0f}   {med('kib'):.1f} KiB"
    )


def print_waterfall(figures: dict) -> None:
    rows = sorted(figures["waterfall"])
    if not rows:
        return
    origin = rows[0][0]
    print(f"    ready at {figures['ready']:.0f} ms; first paint {figures['fcp'] or 0:.0f} ms")
    for started, url, *rest in rows:
        source, ended = (rest[0], rest[1]) if len(rest) == 2 else ("?", rest[-1])
        path = url.split("/", 3)[-1]
        print(f"    {1000 * (started - origin):7.0f} {1000 * (ended - origin):7.0f} ms"
              f"  {source:<5} /{path[:90]}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=Path, nargs="*", default=[TREE])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rtt", type=float, default=150, help="round trip, ms")
    parser.add_argument("--down", type=float, default=1600, help="Kbps")
    parser.add_argument("--up", type=float, default=750, help="Kbps")
    parser.add_argument("--cpu", type=float, default=4, help="CPU slow-down factor")
    parser.add_argument("--link", choices=("proxy", "cdp"), default="proxy")
    parser.add_argument("--waterfall", action="store_true", help="print each visit's requests")
    parser.add_argument("--paths", action="store_true", help="print the requests the server saw")
    parser.add_argument(
        "--lighthouse",
        metavar="BINARY",
        help="also run Lighthouse (e.g. node_modules/.bin/lighthouse, 12.2.3) on each tree",
    )
    parser.add_argument("--port", type=int, default=8775)
    parser.add_argument(
        "--gunicorn",
        default="",
        help="more gunicorn options after Procfile's, e.g. '--worker-class sync' (no keep-alive)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        public_port = args.port + 1 if args.link == "proxy" else args.port
        env = app_environment(url, instance, public_port)
        env["HAVEN_BASE_URL"] = env["HAVEN_BASE_URL"].replace("127.0.0.1", "localhost")
        os.environ.update(env)
        from server import create_app

        app = create_app()
        print("Seeding the demo school …", flush=True)
        ids = seed(app, 420)
        if args.link == "proxy":
            SlowProxy(Link(args.rtt, args.down, args.up), public_port, args.port).start()
        base = f"http://localhost:{public_port}"
        print(
            f"Add Incident as a class teacher: {args.rtt:.0f} ms RTT, {args.down / 1000:g} Mbps "
            f"down, {args.up:g} Kbps up ({args.link}), CPU {args.cpu:g}x slower; "
            f"median of {args.runs} runs",
            flush=True,
        )
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for tree in args.trees:
                access_log = Path(tmp) / f"access-{secrets.token_hex(4)}.log"
                with gunicorn(
                    tree.resolve(),
                    env,
                    args.port,
                    *procfile_web_options(tree),
                    *args.gunicorn.split(),
                    "--access-logfile", str(access_log),
                    "--access-logformat", "%(m)s %(U)s %(s)s %(B)s",
                    app="server:create_app()",
                    ready_path="/offline",
                ):  # fmt: skip
                    warm_up(args.port, session_cookie(app, ids["teacher"], "warm")[0])
                    runs = []
                    for _ in range(args.runs):
                        cookie, _csrf = session_cookie(app, ids["teacher"], secrets.token_hex(20))
                        runs.append(run_once(browser, base, cookie, args, access_log))
                    lighthouse_runs = [
                        lighthouse(args.lighthouse, f"http://localhost:{args.port}{PAGE}",
                                   session_cookie(app, ids["teacher"], secrets.token_hex(20))[0])
                        for _ in range(args.runs if args.lighthouse else 0)
                    ]  # fmt: skip
                print(f"{tree.resolve()}:")
                if lighthouse_runs:
                    print(describe_lighthouse(lighthouse_runs))
                for visit_name in ("cold", "second"):
                    print(describe(visit_name, [r[visit_name] for r in runs]))
                    if args.waterfall:
                        print_waterfall(runs[-1][visit_name])
                    if args.paths:
                        for row in runs[-1][visit_name]["paths"]:
                            print(f"    {row[0]} {row[1][:90]} {row[2]} {row[3]} B")
            browser.close()
        from server.extensions import db

        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
