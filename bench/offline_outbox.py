"""Offline capture in the browser: how long sealing and storing take, and replaying 100 queued
incidents beside 100 online submissions, in one run on the same server (this machine is noisy:
compare the rows, not runs).

    .venv/bin/python -m bench.offline_outbox [--incidents 100]

Runs the app (SQLite, or DATABASE_URL) under a threaded server on localhost, signs a teaching
assistant in with /usr/bin/chromium, enrols the device, then measures inside the page:
  - draft save: encrypt the form (and a 200 KB file) under the data key and store it;
  - seal + store: seal one incident to the server's key, sign it, put it in the outbox;
  - replay N: N sealed incidents queued while the server was unreachable, then sent;
  - online N: the same N incidents posted one by one to POST /api/incidents with the session.
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Correct-Horse-42!"  # noqa: S105 (a throw-away benchmark account)

MEASURE = """async ({ count }) => {
  const { addToOutbox, replayOutbox, outboxCount } = await import('/static/js/outbox.js');
  const { unlockOnline, dataKey, deviceRecord } = await import('/static/js/device.js');
  const { saveDraft } = await import('/static/js/drafts.js');
  const userId = Number(document.querySelector('meta[name="haven-user"]').content);
  await unlockOnline(userId);
  const record = await deviceRecord(userId);
  const device = { userId, deviceId: record.deviceId, signingKey: record.signingKey };
  const vocabulary = await (await fetch('/api/incident-form')).json();
  const roster = await (await fetch('/api/roster')).json();
  const file = new File([new Uint8Array(200 * 1024)], 'notes.txt', { type: 'text/plain' });
  const incident = () => ({
    uuid: crypto.randomUUID(), pupil_id: roster[0].id,
    occurred_at: new Date(Date.now() - 60000).toISOString(),
    location: 'Playground',
    account: 'A benchmark account. '.repeat(40), parents_contacted: 'yes', parents_reason: '',
    medical_attention: 'no',
    body_marks: [{ side: 'front', x: 0.4, y: 0.3, kind: 'bruise', note: '' }],
    category_ids: [vocabulary.categories.find((c) => !c.dsl_only).id], linked_pupil_ids: [],
    extra_recipient_ids: [], agency_ids: [], urgent: false, on_behalf: null,
  });
  const time = async (fn) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };
  const drafts = [];
  for (let i = 0; i < 20; i += 1) {
    const draft = { fields: incident(), files: [file] };
    drafts.push(await time(() => saveDraft(dataKey(), userId, draft)));
  }
  const seals = [];
  // Unreachable while the outbox fills (the page's own timer must not send them early).
  const realFetch = window.fetch;
  window.fetch = (url, options) => (String(url).endsWith('/api/outbox')
    ? Promise.reject(new TypeError('offline')) : realFetch(url, options));
  for (let i = 0; i < count; i += 1) {
    seals.push(await time(() => addToOutbox({ ...device, incident: incident(), files: [] })));
  }
  const waiting = await outboxCount();
  window.fetch = realFetch;
  const replay = await time(() => replayOutbox({ force: true }));
  const left = await outboxCount();
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const online = await time(async () => {
    for (let i = 0; i < count; i += 1) {
      const response = await fetch('/api/incidents', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
        body: JSON.stringify(incident()),
      });
      if (response.status !== 201) throw new Error(`online submission: ${response.status}`);
    }
  });
  return { drafts, seals, waiting, replay, left, online };
}"""


def seed(app) -> None:
    from server.auth.accounts import create_user
    from server.extensions import db
    from server.incidents.vocabulary import install_default_vocabulary
    from server.pupils.models import Pupil, SchoolClass

    with app.test_request_context():
        install_default_vocabulary()
        create_user(
            email="bench.ta@school.example",
            full_name="Bench Assistant",
            roles=["staff"],
            password=PASSWORD,
        )
        owls = SchoolClass(name="Owls", year_group="3")
        db.session.add(
            Pupil(
                upn=f"B{uuid.uuid4().hex[:12].upper()}",
                legal_first_name="Bench",
                legal_last_name="Pupil",
                date_of_birth=date(2017, 3, 3),
                year_group="3",
                school_class=owls,
            )
        )
        db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from server.config import TestConfig
    from tests.conftest import make_test_app

    instance = Path(tempfile.mkdtemp(prefix="haven-bench-"))
    app = make_test_app(f"sqlite:///{instance / 'haven.sqlite3'}", instance)
    app.config["ARGON2_TIME_COST"] = TestConfig.ARGON2_TIME_COST
    seed(app)
    server = make_server("localhost", 0, app, threaded=True)
    base = f"http://localhost:{server.server_port}"
    app.config.update(WEBAUTHN_ORIGIN=base, SERVER_BASE_URL=base)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        context = browser.new_context(base_url=base)
        page = context.new_page()
        page.goto("/auth/sign-in")
        page.fill("#email", "bench.ta@school.example")
        page.fill("#password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{base}/")
        started = time.perf_counter()
        result = page.evaluate(MEASURE, {"count": args.incidents})
        total = time.perf_counter() - started
        browser.close()
    server.shutdown()

    n = args.incidents
    rows = [
        ("draft save (200 KB file), median", statistics.median(result["drafts"]), "ms"),
        ("seal + sign + store, median", statistics.median(result["seals"]), "ms"),
        (
            "seal + sign + store, p95",
            sorted(result["seals"])[int(0.95 * len(result["seals"])) - 1],
            "ms",
        ),
        (f"replay {n} queued (sealed) incidents", result["replay"], "ms"),
        (f"{n} online submissions (POST /api/incidents)", result["online"], "ms"),
    ]
    print(f"Offline capture in Chromium, {n} incidents, SQLite, werkzeug threaded server")
    for name, value, unit in rows:
        print(f"  {name:<48} {value:9.1f} {unit}")
    print(f"  {'replay per incident':<48} {result['replay'] / n:9.1f} ms")
    print(f"  {'online per incident':<48} {result['online'] / n:9.1f} ms")
    print(
        f"  replay / online: {result['replay'] / result['online']:.2f}x"
        f"   (queued {result['waiting']}, left after replay {result['left']}, run {total:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
