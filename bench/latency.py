"""§3 Detection-to-delivery latency, through the real service (``kamermonitor run``).

The service runs as a child process with a TOML configuration pointing at the local
SyncFeed, an SMTP server (plain SMTP) and Slack webhooks, polling every second.  Letters
are then published one at a time at random moments.  For each letter the latency is
from the moment it became visible in the local feed to the SMTP server's acceptance of
the message (its 250 to DATA) and to the Slack endpoint's 200 ``ok``; both timestamps are
taken here, in the servers, on the same monotonic clock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx

from bench.common import ROOT, Section
from bench.data import letter_pdf, make_world, publish_backlog, publish_dossiers
from bench.servers import Arrivals, TimedList, TimedSlackServer, TimedSmtpServer, timed
from monitor.notify.registry import CHANNEL_TYPES
from tests.fakes.apprise_target import AppriseTarget
from tests.fakes.teams_server import TeamsServer
from tests.fakes.tk_server import TkFeedServer
from tests.fakes.webhook_receiver import WebhookReceiver

WEBHOOKS = 4
# Each channel type that sends over the network, as the row names it; console writes to the
# service's own output (nothing to time), apprise only when the optional extra is installed.
LABELS = {
    "email": "email (SMTP accepted)", "slack": "Slack (200 ok)", "teams": "Teams (202 accepted)",
    "webhook": "signed webhook (204)", "apprise": "Apprise json:// (200)",
}  # fmt: skip
SHIPPED_PAUSE = 0.5  # [http] pause_seconds as shipped
DOCNR = r"2025D9\d{4}"


def _config(
    path: Path,
    tk: TkFeedServer,
    smtp_port: int,
    dossiers: list[str],
    web_port: int | None = None,
    pause: float = 0,
    *,
    apprise: bool = False,
) -> None:
    jitter = pause  # shipped: a pause of 0.5 s and some jitter; the interval stays 1 s to fit the letters in
    lines = [
        "[http]", f"pause_seconds = {pause}", "read_timeout = 5", "",
        "[sources.syncfeed]", f'base_url = "{tk.base_url}"', "interval_seconds = 1", f"jitter_seconds = {jitter}", "",
        "[sources.sru]", "enabled = false", "",
        "[[channel]]", 'name = "mail"', 'type = "email"', 'host = "127.0.0.1"', f"port = {smtp_port}",
        'security = "none"', 'from = "Kamermonitor <alerts@example.org>"', 'to = ["team@example.org"]', "",
        "[[channel]]", 'name = "hook"', 'type = "webhook"', 'url_env = "BENCH_HOOK_URL"',
        'secret_env = "BENCH_HOOK_SECRET"', "",
    ]  # fmt: skip
    shared = ["mail", "hook"]
    if apprise:
        lines += ["[[channel]]", 'name = "apprise"', 'type = "apprise"', 'url_env = "BENCH_APPRISE_URL"', ""]
        shared.append("apprise")
    if web_port is not None:
        lines += ["[web]", f'listen = "127.0.0.1:{web_port}"', ""]
    for i in range(WEBHOOKS):
        lines += ["[[channel]]", f'name = "slack{i}"', 'type = "slack"', f'webhook_url_env = "BENCH_SLACK_{i}"', ""]
        lines += ["[[channel]]", f'name = "teams{i}"', 'type = "teams"', f'webhook_url_env = "BENCH_TEAMS_{i}"', ""]
    for i, d in enumerate(dossiers):
        names = ", ".join(f'"{n}"' for n in [*shared, f"slack{i % WEBHOOKS}", f"teams{i % WEBHOOKS}"])
        lines += ["[[watch]]", f'dossiers = ["{d}"]', f"channels = [{names}]", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _polls(db: Path) -> int:
    """How many SyncFeed polls the service has made (read from its database)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT value FROM cursors WHERE name = 'syncfeed:polls'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


class Scraper:
    """GETs /metrics and / of the service once a second in a thread (Prometheus at a short interval, and a reader)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.answers: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(1.0):
                for path in ("/metrics", "/"):
                    try:
                        self.answers.append(client.get(self.base + path).status_code)
                    except httpx.HTTPError:
                        self.answers.append(0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def run(
    workdir: Path,
    *,
    smoke: bool,
    profile: bool = False,
    web_port: int | None = None,
    letters: int | None = None,
    name: str = "latency",
    pause: float = 0.0,
) -> Section:
    """``web_port``: the service also serves ``[web]`` there, and is scraped once a second meanwhile.

    ``name`` names the run's database, configuration and log in ``workdir``: a run that
    found §3's database would find its letters already alerted.
    """
    sec = Section("3", "Detection-to-delivery latency")
    letters = letters or int(os.environ.get("BENCH_LETTERS", 0)) or (5 if smoke else 200)
    gap = (0.1, 0.3) if smoke else (0.1, 0.6)  # seconds between two letters, uniform
    if pause:
        # Each letter's file is read from the feed's host, which at a pause of 0.5 s takes two
        # requests a second on average, and the 1-s polls (jitter 0.5 s) already take 0.8 of
        # them; letters every 1.5 s add 0.67: the host is 73 % busy.  (At one letter a second
        # it would be 90 % busy and the files would queue behind each other; the shipped
        # interval of 120 s leaves it all but idle between polls.)
        gap = (1.0, 2.0)
    rng = random.Random(7)
    today = date.today()
    world = make_world(WEBHOOKS, other=20)
    apprise = importlib.util.find_spec("apprise") is not None
    kinds = [k for k in LABELS if apprise or k != "apprise"]
    arrivals = {kind: Arrivals(DOCNR) for kind in kinds}
    visible: dict[str, float] = {}
    db = workdir / f"{name}.db"
    cfg = workdir / f"{name}.toml"
    log = workdir / f"{name}-service.log"
    # Start from an empty store, not a previous run's in the same directory (whose cursor lies
    # past the new feed server's letters, so none would be alerted).
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    with contextlib.ExitStack() as stack:
        tk = stack.enter_context(TkFeedServer(first_token=30_000_000))
        smtp = stack.enter_context(TimedSmtpServer(arrivals["email"]))
        slack = stack.enter_context(TimedSlackServer(arrivals["slack"]))
        teams = stack.enter_context(timed(TeamsServer, arrivals["teams"]))
        hook = stack.enter_context(timed(WebhookReceiver, arrivals["webhook"]))
        target = stack.enter_context(timed(AppriseTarget, arrivals["apprise"])) if apprise else None
        tk.requests = requests = TimedList()
        publish_dossiers(tk, world)
        publish_backlog(tk, world, 200, today=today)
        _config(cfg, tk, smtp.port, [d.ref for d in world.watched], web_port, pause, apprise=apprise)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        env.update({f"BENCH_SLACK_{i}": slack.url_for(f"hook{i}") for i in range(WEBHOOKS)})
        env.update({f"BENCH_TEAMS_{i}": teams.url_for(f"{i:032x}") for i in range(WEBHOOKS)})
        env.update({"BENCH_HOOK_URL": hook.url_for(), "BENCH_HOOK_SECRET": hook.secret})
        if target is not None:
            env["BENCH_APPRISE_URL"] = target.apprise_url()
        with open(log, "wb") as err:
            prof = ["-m", "pyinstrument", "-o", str(workdir / "latency-profile.txt")] if profile else []
            service = subprocess.Popen(
                [sys.executable, *prof, "-m", "monitor", "--config", str(cfg), "--database", f"sqlite:///{db}", "run"],
                cwd=ROOT, env=env, stdout=err, stderr=subprocess.STDOUT,
            )  # fmt: skip
            scraper = Scraper(web_port) if web_port is not None else None
            try:
                deadline = time.monotonic() + 60
                while _polls(db) < 2:  # first start done and one ordinary poll after it
                    if service.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the service did not start polling; see {log}")
                    time.sleep(0.05)
                pdf, pdf_type = letter_pdf()
                started = time.monotonic()
                for i in range(letters):
                    time.sleep(rng.uniform(*gap))
                    d = world.watched[i % WEBHOOKS]
                    nummer = f"2025D9{i:04d}"
                    tk.add_document(
                        world.guid(), nummer, "Brief regering", f"{world.title('Brief regering')} (meting {i})",
                        d.titel, today, "2024-2025", -1, [d.guid], [], content=pdf, content_type=pdf_type,
                    )  # fmt: skip
                    visible[nummer] = time.monotonic()
                publish_s = time.monotonic() - started
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(len(a.first) < letters for a in arrivals.values()):
                    time.sleep(0.05)
            finally:
                if scraper is not None:
                    scraper.stop()
                service.send_signal(signal.SIGTERM)
                try:
                    service.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    service.kill()
                    service.wait()
        polls = _polls(db)
    if scraper is not None:
        ok = sum(1 for code in scraper.answers if code == 200)
        sec.add("Scrapes of /metrics and / while it ran", len(scraper.answers), "",
                note=f"{ok} answered 200")  # fmt: skip
    # When did a Document page request first follow each letter's publication (the poll that saw it)?
    doc_times = [t for p, t in zip(requests, requests.times, strict=True) if "category=Document" in p]
    pickup = {k: next((t for t in doc_times if t >= v), v) - v for k, v in visible.items()}
    sec.add("Wait for the next poll (publication → Document request), median", statistics.median(pickup.values()),
            "s", digits=2, note=f"max {max(pickup.values()):.2f} s")  # fmt: skip
    for kind in kinds:
        channel, seen = LABELS[kind], arrivals[kind]
        lat = sorted(seen.first[k] - t for k, t in visible.items() if k in seen.first)
        missing = letters - len(lat)
        if not lat:
            raise RuntimeError(f"no letter reached {channel}; see {log}")
        after_poll = sorted(seen.first[k] - visible[k] - pickup[k] for k in visible if k in seen.first)
        sec.add(f"{channel}: poll saw it → accepted, median", statistics.median(after_poll), "s", digits=2)
        sec.check(f"{channel}: poll saw it → accepted, p99", _quantile(after_poll, 0.99), "s", 1.0, digits=2,
                  why="an alert waits for its letter's file (for the details), read from the feed's host at its "
                  "pace: letters seen together beyond the burst wait a pause each, and paced channels (Slack, Teams) "
                  "send one message a second after a burst of three",
                  note=f"max {after_poll[-1]:.2f} s; {len(lat)} of {letters} letters delivered"
                  + (f", {missing} MISSING" if missing else ""))  # fmt: skip
        sec.add(f"{channel}: publication → accepted, median", statistics.median(lat), "s", digits=2)
        sec.add(f"{channel}: publication → accepted, p95", _quantile(lat, 0.95), "s", digits=2)
        sec.add(f"{channel}: publication → accepted, p99", _quantile(lat, 0.99), "s", digits=2,
                note=f"max {lat[-1]:.2f} s; includes the wait for the next poll (interval 1 s)")  # fmt: skip
        sec.add(f"{channel}: messages received", seen.messages, "")
    sec.notes += [
        f"`python -m monitor --config … run` (the real service: APScheduler, one poll job per second, delivery "
        f"right after the poll), SRU off, `pause_seconds` = {pause:g}, `jitter_seconds` = {pause:g}. It made {polls} "
        "SyncFeed polls in all.",
        f"{letters} letters (Brief regering, no Kamerstuk number yet, each in one of {WEBHOOKS} watched dossiers) "
        f"published one at a time, {gap[0]}–{gap[1]} s apart at random (mean {sum(gap) / 2:.2f} s; "
        f"{publish_s:.0f} s in all).",
        "Channels, every watch on each: one email channel (aiosmtpd, plain SMTP), one signed webhook (the "
        "Standard Webhooks receiver of the tests, verifying each signature)"
        + (", one Apprise channel (`json://` to a local target)" if apprise else "")
        + f", and {WEBHOOKS} Slack webhooks and {WEBHOOKS} Teams workflows, one of each per watch: each gets a "
        f"letter every {WEBHOOKS * sum(gap) / 2:.1f} s on average. Slack and Teams are paced to one message a "
        "second on average after a burst of three (`monitor/pacing.py`); one shared webhook at this rate would "
        "queue (one message a second is its capacity).",
        "Channel types a configuration can name in this tree (`monitor/notify/registry.py`): "
        + ", ".join(f"`{t}`" for t in sorted(CHANNEL_TYPES))
        + "; measured: "
        + ", ".join(f"`{t}`" for t in kinds)
        + (" (`console` writes to the service's own output: nothing to time)" if "console" in CHANNEL_TYPES else "")
        + ("" if apprise else "; `apprise` is not installed here (`pip install 'kamermonitor[apprise]'`)")
        + ".",
        "*Poll saw it → accepted*: from the Document request of the poll that first saw the letter (the local "
        "feed notes when each request arrives) to the channel's acceptance; target p99 < 1 s for every channel. "
        "*Publication → accepted* adds the wait for that poll, which the interval decides.",
    ]
    return sec


SHIPPED_RATE = (
    " Letters come less often than in the first run because each one's file is read from the feed's host, which "
    "at a pause of 0.5 s takes two requests a second on average (after a burst of `[http] burst` = 4, as shipped), "
    "and the 1-s polls already take about 0.8 of them: at one letter a second the host would be 90 % busy and the "
    "files would queue; the shipped interval of 120 s leaves it all but idle between polls."
)


def run_both(workdir: Path, *, smoke: bool) -> Section:
    """§3 twice (full run): stripped down (no pause, no jitter), then at the shipped pause (0.5 s) with jitter."""
    first = run(workdir, smoke=smoke)
    if smoke:
        return first
    shipped = run(workdir, smoke=smoke, name="latency-shipped", pause=SHIPPED_PAUSE)
    sec = Section(first.key, first.title)
    for label, part in (("no pause", first), (f"pause {SHIPPED_PAUSE:g} s", shipped)):
        for fig in part.figures:
            fig.name = f"{label}: {fig.name}"
            sec.figures.append(fig)
    sec.notes = first.notes + [
        f"Second run, at the shipped pause: {shipped.notes[0]} {shipped.notes[1]}" + SHIPPED_RATE
    ]
    return sec
