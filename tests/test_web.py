"""The HTTP surface of ``[web]``, end to end: ``kamermonitor run`` in a real process against the local fakes.

Health, readiness (flipping when a source fails past the threshold and back), Prometheus
metrics (parsed with the client library's own parser), the Atom feed (parsed with
feedparser: one entry per letter, updated in place, 304 on a conditional GET), the status
page, the token, methods, ports, and ``serve`` next to a running ``run``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.slack_server import SlackServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT

TOKEN = "web-t0ken-1234567890"
WEBHOOK_SECRET = "goodhook"
SUBJECT = "Voortgangsrapportage digitale overheid"
LETTER = "aa000000-0000-4000-8000-000000000131"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (a bound that only catches hangs)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.TransportError as exc:  # not listening yet
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Monitor:
    """A config with ``[web]`` in tmp_path and the ``kamermonitor`` processes started on it."""

    def __init__(self, tmp: Path, tk: TkFeedServer, sru: SruServer, slack: SlackServer) -> None:
        self.tmp, self.port = tmp, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "kamermonitor.toml"
        self.env = {**os.environ, "KAMERMONITOR_CONFIG": "", "KAMERMONITOR_WEB_TOKEN": TOKEN,
                    "KAMERMONITOR_SLACK_WEBHOOK": slack.url_for(WEBHOOK_SECRET)}  # fmt: skip
        self.procs: list[subprocess.Popen[str]] = []
        self.write(tk, sru)

    def write(self, tk: TkFeedServer, sru: SruServer, *, port: int | None = None, to: Path | None = None) -> None:
        (to or self.config).write_text(
            f"""
[monitor]
database = "sqlite:///{self.tmp / "km.db"}"
[http]
pause_seconds = 0
read_timeout = 2
connect_timeout = 2
[sources.syncfeed]
base_url = "{tk.base_url}"
interval_seconds = 1
jitter_seconds = 0
related_every = 1
[sources.sru]
base_url = "{sru.base_url}"
interval_seconds = 1
jitter_seconds = 0
[delivery]
interval_seconds = 1
backoff_base_seconds = 0.2
backoff_cap_seconds = 0.5
[operator]
failure_threshold = 2
[enrichment]
enabled = false
[web]
listen = "127.0.0.1:{port or self.port}"
token_env = "KAMERMONITOR_WEB_TOKEN"
[[channel]]
name = "slack"
type = "slack"
webhook_url_env = "KAMERMONITOR_SLACK_WEBHOOK"
[[watch]]
name = "ict"
dossiers = ["26643"]
channels = ["slack"]
""",
            encoding="utf-8",
        )

    def start(self, command: str = "run", config: Path | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config or self.config), command],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.tmp,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def get(self, path: str, *, token: bool = True, base: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return httpx.get((base or self.base) + path, headers=headers, timeout=10, **kw)

    def stop(self, proc: subprocess.Popen[str]) -> str:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        return err

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate()
            if err:
                print(f"--- stderr of {' '.join(proc.args[-1:])}:\n{err}", file=sys.stderr)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(hang_seconds=3) as server:
        yield server


@pytest.fixture
def monitor(tmp_path: Path, tk: TkFeedServer, sru: SruServer, slack: SlackServer) -> Iterator[Monitor]:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    m = Monitor(tmp_path, tk, sru, slack)
    yield m
    m.close()


def metrics(m: Monitor, base: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by the Prometheus client's own parser: (name, labels) → value."""
    resp = m.get("/metrics", token=False, base=base)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def sample(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


def publish(tk: TkFeedServer) -> None:
    today = date.today()
    tk.add_document(LETTER, "2026D40001", "Brief regering", SUBJECT, ICT, today, "2026-2027", -1, [DOSSIER_26643])


def feed_entries(m: Monitor) -> list[Any]:
    resp = m.get("/feeds/ict.atom")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    return list(parsed.entries)


def test_run_with_web_serves_health_metrics_feed_and_page_as_letters_arrive(
    monitor: Monitor, tk: TkFeedServer, slack: SlackServer
) -> None:
    m = monitor
    proc = m.start()
    wait_for("/healthz", lambda: m.get("/healthz", token=False).status_code == 200)
    wait_for("/readyz to be ready", lambda: m.get("/readyz", token=False).status_code == 200)
    assert m.get("/readyz", token=False).json() == {"ready": True, "problems": []}
    before = metrics(m)
    assert sample(before, "kamermonitor_alerts_sent_total", channel="slack") == 0
    assert sample(before, "kamermonitor_polls_total", source="syncfeed") >= 1
    assert sample(before, "kamermonitor_source_requests_total", source="syncfeed") >= 1
    assert sample(before, "kamermonitor_source_last_success_timestamp_seconds", source="sru") > 0
    assert feed_entries(m) == []

    # A new letter: detected, recorded, delivered to Slack; every surface shows it.
    publish(tk)
    wait_for("the Slack alert", lambda: slack.messages)
    after = wait_for(
        "the sent counter",
        lambda: (v := metrics(m)) and sample(v, "kamermonitor_alerts_sent_total", channel="slack") == 1 and v,
    )
    assert sample(after, "kamermonitor_alerts_queued_total", channel="slack") == 1
    assert sample(after, "kamermonitor_letters_recorded") == sample(before, "kamermonitor_letters_recorded") + 1
    assert sample(after, "kamermonitor_delivery_latency_seconds_count", channel="slack") == 1
    assert sample(after, "kamermonitor_delivery_latency_seconds_bucket", channel="slack", le="+Inf") == 1
    assert sample(after, "kamermonitor_first_seen_lag_seconds_count", source="syncfeed") == 1
    assert sample(after, "kamermonitor_outbox_depth", channel="slack", state="pending") == 0
    assert sample(after, "kamermonitor_polls_total", source="syncfeed") > sample(
        before, "kamermonitor_polls_total", source="syncfeed"
    )

    [entry] = feed_entries(m)
    assert SUBJECT in entry.title and "2026D40001" in entry.summary
    assert any("tweedekamer.nl" in link.href for link in entry.links)
    first = m.get("/feeds/ict.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert m.get("/feeds/ict.atom", headers={"If-None-Match": etag}).status_code == 304
    assert m.get("/feeds/ict.atom", headers={"If-Modified-Since": modified}).status_code == 304

    # Its Kamerstuk number arrives: the same entry changes, none is added, the old ETag no longer matches.
    tk.update_document(LETTER, volgnummer=1384)
    renumbered = wait_for("the numbered entry", lambda: [e for e in feed_entries(m) if "nr. 1384" in e.summary] or None)
    assert [e.id for e in feed_entries(m)] == [entry.id] and renumbered[0].id == entry.id
    assert m.get("/feeds/ict.atom", headers={"If-None-Match": etag}).status_code == 200
    assert len(slack.messages) == 1  # a number alone sends nothing

    page = m.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert SUBJECT in html and "Kamerstuk 26643, nr. 1384" in html
    assert "Tweede Kamer (SyncFeed)" in html and "Officiële bekendmakingen (SRU)" in html
    assert "Laatste geslaagde poll" in html and "Geen actieve waarschuwingen" in html
    assert 'href="/feeds/ict.atom"' in html and 'id="watch-ict"' in html
    assert "<script" not in html.lower() and "script-src" not in page.headers["content-security-policy"]
    for secret in (TOKEN, WEBHOOK_SECRET, str(m.tmp)):
        assert secret not in html
    watch_page = m.get("/watch/ict")
    assert watch_page.status_code == 200 and SUBJECT in watch_page.text
    err = m.stop(proc)
    assert "web: serving on http://127.0.0.1:" in err and "Traceback" not in err


def test_readyz_turns_503_when_a_source_fails_past_the_threshold_and_recovers(
    monitor: Monitor, tk: TkFeedServer
) -> None:
    m = monitor
    proc = m.start()
    wait_for("/readyz to be ready", lambda: m.get("/readyz", token=False).status_code == 200)
    tk.fail_next(4, "500")  # failure_threshold = 2: ready again after the 5th poll
    failing = wait_for("/readyz 503", lambda: (r := m.get("/readyz", token=False)).status_code == 503 and r)
    body = failing.json()
    assert body["ready"] is False
    assert {"kind": "source", "name": "syncfeed"}.items() <= body["problems"][0].items()
    assert "failed polls in a row" in body["problems"][0]["detail"]
    assert m.get("/healthz", token=False).status_code == 200  # alive all along
    wait_for("/readyz ready again", lambda: m.get("/readyz", token=False).status_code == 200)
    failures = sample(metrics(m), "kamermonitor_poll_failures_total", source="syncfeed")
    assert failures >= 2
    m.stop(proc)


def test_token_methods_and_unknown_watches_reveal_nothing(monitor: Monitor) -> None:
    m = monitor
    proc = m.start()
    wait_for("/healthz", lambda: m.get("/healthz", token=False).status_code == 200)
    for path in ("/", "/feeds/ict.atom", "/feeds/nope.atom", "/watch/ict", "/watch/nope"):
        for kw in ({}, {"params": {"token": "wrong"}}, {"headers": {"Authorization": "Bearer wrong"}}):
            resp = m.get(path, token=False, **kw)
            assert resp.status_code == 401, (path, kw)
            assert resp.text == "token vereist\n" and resp.headers["www-authenticate"].startswith("Bearer")
    assert m.get("/feeds/nope.atom").status_code == 404
    assert m.get("/watch/nope").status_code == 404
    assert m.get("/feeds/ict.atom", token=False, params={"token": TOKEN}).status_code == 200
    via_query = m.get("/", token=False, params={"token": TOKEN})
    assert via_query.status_code == 200 and f"/feeds/ict.atom?token={TOKEN}" in via_query.text
    assert m.get("/nothing-here").status_code == 404
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        resp = httpx.request(method, m.base + "/feeds/ict.atom", timeout=10)
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, HEAD"
    head = httpx.head(m.base + "/healthz", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert "watch" not in m.get("/metrics", token=False).text.lower()  # no watch names without the token
    m.stop(proc)


def test_run_refuses_to_start_with_one_line_when_the_port_is_taken(monitor: Monitor) -> None:
    m = monitor
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", m.port))
        taken.listen()
        proc = m.start()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    [line] = [x for x in err.splitlines() if "error" in x.lower()]
    assert line.startswith(f"error: web: cannot listen on 127.0.0.1:{m.port}:") and "in use" in line
    assert "Traceback" not in err and "syncfeed:" not in err  # nothing was polled


def test_serve_reads_the_database_next_to_a_running_instance(
    monitor: Monitor, tk: TkFeedServer, sru: SruServer, slack: SlackServer
) -> None:
    m = monitor
    run = m.start()
    wait_for("/readyz to be ready", lambda: m.get("/readyz", token=False).status_code == 200)
    serve_port = free_port()
    m.write(tk, sru, port=serve_port, to=m.tmp / "serve.toml")
    serve = m.start("serve", m.tmp / "serve.toml")
    replica = f"http://127.0.0.1:{serve_port}"
    wait_for("serve's /healthz", lambda: m.get("/healthz", token=False, base=replica).status_code == 200)
    publish(tk)
    wait_for("the letter on the replica's page", lambda: SUBJECT in m.get("/", base=replica).text)
    values = metrics(m, replica)
    assert sample(values, "kamermonitor_letters_recorded") >= 1
    assert not any(name == "kamermonitor_polls_total" for name, _ in values)  # serve neither polls nor delivers
    assert m.get("/readyz", token=False, base=replica).status_code == 200
    wait_for("the Slack alert from run", lambda: slack.messages)  # run kept polling and delivering meanwhile
    err = m.stop(serve)
    assert "Traceback" not in err
    m.stop(run)
