"""Building blocks of the fault-injection harness (``tests/test_fault_harness.py``).

A :class:`World` owns the local servers (SyncFeed, SRU, SMTP, Slack, Teams, a signed-webhook
receiver), publishes
letters at the sources the way the real services do (a TK document first unlinked with
Volgnummer -1 and numbered later, an SRU publication before the TK document, reprints),
and arms random faults on all of them.  :class:`Runner` starts ``kamermonitor poll --once``
as a real subprocess and SIGKILLs it when asked.  :func:`analyse` compares what the
servers accepted with what should have been delivered, and explains every duplicate by
an "accepted, then killed before it was recorded" window — or reports it.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer, make_self_signed_cert
from tests.fakes.sru_server import SruServer
from tests.fakes.teams_server import TeamsServer
from tests.fakes.tk_server import TkFeedServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness import DOSSIER_26643, ICT

DOSSIER_33529 = "0b5e4b7a-6e7e-4d7f-9c55-33529a000001"
GAS = "Gaswinning uit het Groningenveld"
DOSSIER_GUIDS = {26643: DOSSIER_26643, 33529: DOSSIER_33529}
DOSSIER_TITLES = {26643: ICT, 33529: GAS}
RECIPIENTS = ("beleid@example.org", "pa-team@example.org")
KEYWORD = "kwantumchip"
SLACK_ENV = "KAMERMONITOR_FAULT_SLACK_WEBHOOK"
TEAMS_ENV = "KAMERMONITOR_FAULT_TEAMS_WEBHOOK"
HOOK_URL_ENV, HOOK_SECRET_ENV = "KAMERMONITOR_FAULT_HOOK_URL", "KAMERMONITOR_FAULT_HOOK_SECRET"
TOKEN_RE = re.compile(r"\bFH\d{5}\b")
MAIL, SLACK, TEAMS, HOOK = "mail", "slack", "teams", "hook"
WEBHOOKS = (SLACK, TEAMS, HOOK)  # one message per alert, no recipients
TRACEBACK = "Traceback (most recent call last)"
SOURCE_FAILED = "poll finished; failing source(s):"  # what `poll --once` logs when it exits 1

# What the configuration below says, in the harness's own words (used to compute expectations).
WATCHES = [
    {"name": "ict", "dossiers": ["26643"], "channels": [MAIL, SLACK, TEAMS, HOOK]},
    {"name": "kwantum", "keywords": [KEYWORD], "channels": [MAIL, SLACK, TEAMS, HOOK]},
    {"name": "ict-alles", "dossiers": ["26643"], "kinds": ["*"], "channels": [SLACK]},  # shares slack with ict
]

TK_FAULTS = [
    "500", "503", "429", "html", "truncated", "malformed", "dtd", "hang", "drop", "gzipbomb", "endless",
    "drip", "foreign",
]  # fmt: skip
TK_WEIGHTS = [3, 2, 2, 2, 3, 2, 1, 1, 3, 1, 1, 3, 3]  # hangs and drips cost a timeout or the deadline: rarer
# Retry-After values a hostile or broken server sends with a 503/429 (clamped to max_wait_seconds).
HOSTILE_RETRY_AFTER = ["1", "inf", "1e12", "99999999999", "-1", "nan", "soon", "Fri, 31 Dec 9999 23:59:59 GMT"]
SRU_FAULTS = ["diagnostic", "500", "503", "html", "malformed", "truncated", "soft404", "hang", "reset"]
SRU_WEIGHTS = [2, 3, 1, 2, 2, 3, 2, 1, 3]
SMTP_REPLIES = ["451 4.3.0 Try again later", "421 4.7.0 Too busy, try again later", "452 4.2.2 Mailbox full"]


def today_amsterdam() -> date:
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


class StampedList(list[Any]):
    """A list that remembers when (``time.monotonic()``) each item was appended.

    Put in place of a fake server's ``messages`` list, it records the moment the server
    accepted each message, to be compared with the moments the monitor was killed.
    """

    def __init__(self, counter: AcceptCounter) -> None:
        super().__init__()
        self.times: list[float] = []
        self.counter = counter

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)
        self.counter.tick()


class AcceptCounter:
    """Messages accepted by all the channels' servers together; lets a test wait for the next."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def tick(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_beyond(self, count: int, timeout: float) -> bool:
        """Wait until more than ``count`` messages were accepted; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.count > count, timeout)


# --------------------------------------------------------------------------- letters


@dataclass
class Letter:
    seq: int
    token: str
    dossier: int | None  # 26643, 33529, or None (no dossier at all)
    kind: str
    keyword: bool
    path: str  # tk | tk-unlinked | sru-first | tk-nodossier
    subject: str
    volgnummer: int
    guid: str
    zaak_guid: str | None = None
    content: bytes | None = None  # the TK document's file; None: the fake's tiny PDF
    in_tk: bool = False
    in_sru: bool = False
    numbered: bool = False
    reprinted: bool = False
    published_cycle: int = -1
    history: list[str] = field(default_factory=list)  # what happened, for failure messages
    followups: list[tuple[int, str]] = field(default_factory=list)  # (due cycle, action)

    @property
    def channels(self) -> set[str]:
        """Channels that must get this letter, from WATCHES."""
        out: set[str] = set()
        brief = self.kind.lower().startswith("brief")
        for w in WATCHES:
            kinds = w.get("kinds", ["Brief*"])
            kind_ok = "*" in kinds or brief
            in_dossier = self.dossier is not None and str(self.dossier) in w.get("dossiers", [])
            has_keyword = self.keyword and KEYWORD in [k.lower() for k in w.get("keywords", [])]
            if kind_ok and (in_dossier or has_keyword):
                out |= set(w["channels"])
        return out

    @property
    def targets(self) -> set[tuple[str, str]]:
        """(channel, recipient) pairs that must each get exactly one message."""
        out: set[tuple[str, str]] = set()
        if MAIL in self.channels:
            out |= {(MAIL, r) for r in RECIPIENTS}
        out |= {(channel, "") for channel in WEBHOOKS if channel in self.channels}
        return out

    @property
    def publication_url(self) -> str:
        """How an alert names the official publication (not the reprint's ``-h1``)."""
        return f"/kst-{self.dossier}-{self.volgnummer}.html"

    def heading(self) -> str:
        """The title of this letter's first alert ("Brief regering: Kabinetsbrief ..."); a
        follow-up about the letter has another title."""
        return f"{self.kind}: {self.subject}"

    def describe(self) -> str:
        where = f"dossier {self.dossier}" if self.dossier else "no dossier"
        return (
            f"{self.token} ({self.kind}, {where}, keyword={self.keyword}, path={self.path}, "
            f"published in cycle {self.published_cycle}: {'; '.join(self.history)})"
        )


class World:
    """The local services and everything published at them."""

    def __init__(self, rng: random.Random, tmp: Path) -> None:
        self.rng = rng
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self._started: list[Any] = []
        self.today = today_amsterdam()
        # Small pages, so that a poll reads several and a kill or fault can fall between them.
        self.tk = TkFeedServer(first_token=30_000_000, page_size=4, hang_seconds=1.5, endless_limit=8 * 1024 * 1024)
        self.sru = SruServer(hang_seconds=1.5)
        self.smtp = SmtpServer()
        self.slack = SlackServer(hang_seconds=2.5)  # longer than the channel's timeout (2 s)
        # A killed monitor resets its keep-alive connection: expected, so not printed as an error.
        self.slack._server.handle_error = _quiet_handle_error(self.slack._server.handle_error)  # type: ignore[method-assign,assignment]
        self.teams = TeamsServer(hang_seconds=2.5)
        self.hook = WebhookReceiver(hang_seconds=2.5)
        for server in (self.teams, self.hook):
            server._server.handle_error = _quiet_handle_error(server._server.handle_error)  # type: ignore[method-assign,assignment]
        self.accepted = AcceptCounter()
        self.smtp.messages = StampedList(self.accepted)
        self.slack.messages = StampedList(self.accepted)
        self.teams.messages = StampedList(self.accepted)
        # Every copy the receiver verified, not only the first per webhook-id: duplicates are counted.
        self.hook.received = StampedList(self.accepted)
        self.letters: list[Letter] = []
        self.faults: Counter[str] = Counter()
        self._seq = 0

    def start(self) -> World:
        for server in (self.tk, self.sru, self.smtp, self.slack, self.teams, self.hook):
            server.start()
            self._started.append(server)
        return self

    def stop(self) -> None:
        """Stop the servers that were started (stopping the others could block), once."""
        while self._started:
            server = self._started.pop()
            try:
                server.stop()
            except Exception as exc:  # stop the others anyway
                print(f"fault harness: stopping {type(server).__name__} failed: {exc}", file=sys.stderr)

    # ------------------------------------------------------------------ configuration

    @property
    def database(self) -> Path:
        return self.tmp / "kamermonitor.db"

    def write_config(self, extra: str = "") -> Path:
        """The monitor's TOML configuration, pointing at the four servers; ``extra`` is appended.

        The channels' timeouts are well above what a reply takes even on a busy machine: a
        message accepted but answered after the timeout is sent again, a duplicate outside
        the accept-then-kill windows this harness accounts for.
        """
        watches = "".join(_toml_table("watch", w) for w in WATCHES) + extra
        text = f"""
[monitor]
database = "sqlite:///{self.database}"

# Hostile Retry-After values are clamped to this (6 h in production would stall the run).
max_wait_seconds = 2

[http]
connect_timeout = 1
read_timeout = 1
deadline_seconds = 3
max_response_mb = 4
pause_seconds = 0

# The intervals matter to `run` only: it polls each source every second.
[sources.syncfeed]
base_url = "{self.tk.base_url}"
interval_seconds = 1
jitter_seconds = 0

[sources.sru]
base_url = "{self.sru.base_url}"
page_size = 10
max_pages_per_poll = 30
interval_seconds = 1
jitter_seconds = 0

[delivery]
interval_seconds = 1
max_attempts = 10000
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2
lease_seconds = 3
digest_threshold = 2  # three or more letters for one watch in one poll go out as a digest

[[channel]]
name = "{MAIL}"
type = "email"
host = "127.0.0.1"
port = {self.smtp.port}
security = "none"
from = "Kamermonitor <alerts@example.org>"
to = {json.dumps(list(RECIPIENTS))}
timeout = 5

[[channel]]
name = "{SLACK}"
type = "slack"
webhook_url_env = "{SLACK_ENV}"
timeout = 2

[[channel]]
name = "{TEAMS}"
type = "teams"
webhook_url_env = "{TEAMS_ENV}"
timeout = 2

[[channel]]
name = "{HOOK}"
type = "webhook"
url_env = "{HOOK_URL_ENV}"
secret_env = "{HOOK_SECRET_ENV}"
timeout = 2
{watches}"""
        path = self.tmp / "kamermonitor.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        """The monitor's environment: its Slack secret, no internet, and two speed-ups."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAMERMONITOR_")}
        env[SLACK_ENV] = self.slack.url_for("goodhook")
        env[TEAMS_ENV] = self.teams.url_for()
        env[HOOK_URL_ENV], env[HOOK_SECRET_ENV] = self.hook.url_for(), self.hook.secret
        # No internet: the fake records link their publications on loopback and enrichment
        # reads only from the sources' hosts; should a link ever point at https://…, the
        # request goes to a closed local port (tests/conftest.py's guard does not reach
        # into these processes).
        for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            env.pop(var, None)
            env.pop(var.upper(), None)
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{closed_port()}"
        env["NO_PROXY"] = "127.0.0.1,localhost"
        # Nothing here speaks TLS, yet every SSL context loads the CA bundle (~50 ms each,
        # several per run): a one-certificate bundle makes that free.
        cert, _ = make_self_signed_cert(self.tmp)
        env["SSL_CERT_FILE"] = str(cert)
        env.pop("SSL_CERT_DIR", None)
        # Byte-compile once for all runs and monitors (outside the repository), not in every run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.tmp.parent / "pycache")
        return env

    # ------------------------------------------------------------------ publishing

    def seed_history(self) -> None:
        """What exists before the monitor's first start: dossiers, an old letter and its publication."""
        self.tk.add_dossier(DOSSIER_26643, 26643, ICT)
        self.tk.add_dossier(DOSSIER_33529, 33529, GAS)
        self.tk.add_document(
            "aa000000-0000-4000-8000-000000001336", "2025D21028", "Brief regering",
            "Verzamelbrief digitalisering mei 2025", ICT, "2025-05-13", "2024-2025", 1336, [DOSSIER_26643],
        )  # fmt: skip
        self.sru.add_record(
            "kst-26643-1336", document_title="Verzamelbrief digitalisering mei 2025", date=date(2025, 5, 13),
            modified=self.today,
        )  # fmt: skip

    def new_letter(self, cycle: int, *, burst: bool = False) -> Letter:
        """Publish a random new letter (its first step now, the rest in later cycles).

        ``burst``: a letter of the watched dossier on the Tweede Kamer's feed, so that several
        of them published in one cycle are seen by one poll and go out as a digest.
        """
        rng = self.rng
        roll = 0.0 if burst else rng.random()
        dossier: int | None
        if roll < 0.45:  # a letter in the watched dossier, sometimes also naming the keyword
            dossier, kind, keyword = 26643, "Brief regering", rng.random() < 0.25
            path = "tk" if burst else rng.choices(["tk", "tk-unlinked", "sru-first"], [4, 3, 3])[0]
        elif roll < 0.60:  # another kind in the watched dossier: only the "*" watch (Slack) wants it
            dossier, kind, keyword = 26643, "Motie", False
            path = rng.choice(["tk", "tk-unlinked"])
        elif roll < 0.80:  # the keyword, elsewhere
            dossier, kind, keyword = rng.choice([33529, None]), "Brief regering", True
            path = rng.choice(["tk", "tk-unlinked"]) if dossier else "tk-nodossier"
        else:  # noise: must never be alerted
            dossier, path = 33529, "tk"
            kind, keyword = rng.choice([("Brief regering", False), ("Motie", True)])
        letter = self.publish(cycle, dossier, kind, keyword, path)
        due = cycle
        for action in self._plan(letter):
            due += rng.randint(1, 4)
            letter.followups.append((due, action))
        return letter

    def publish(
        self, cycle: int, dossier: int | None, kind: str, keyword: bool, path: str, content: bytes | None = None
    ) -> Letter:
        """Publish the first step of one letter; ``content`` is its TK file (default: a tiny PDF)."""
        self._seq += 1
        seq = self._seq
        token = f"FH{seq:05d}"
        topic = f"over de {KEYWORD}" if keyword else "over digitale weerbaarheid"
        subject = f"{'Kabinetsbrief' if kind.startswith('Brief') else 'Motie'} {topic} {token}"
        letter = Letter(
            seq, token, dossier, kind, keyword, path, subject,
            volgnummer=(1400 if dossier == 26643 else 700) + seq,
            guid=f"fa000000-0000-4000-8000-{seq:012d}", content=content,
        )  # fmt: skip
        self.letters.append(letter)
        letter.published_cycle = cycle
        self._first_step(letter)
        return letter

    def _plan(self, letter: Letter) -> list[str]:
        actions: list[str] = []
        if letter.path == "tk-unlinked":
            actions.append("number")
        if letter.path == "sru-first":
            actions.append("tk")
        if letter.dossier == 26643 and letter.kind.startswith("Brief"):
            if letter.path != "sru-first" and self.rng.random() < 0.7:
                actions.append("sru")
            if (letter.path == "sru-first" or "sru" in actions) and self.rng.random() < 0.35:
                actions.append("reprint")
        return actions

    def _first_step(self, letter: Letter) -> None:
        if letter.path == "sru-first":
            self._publish_sru(letter)
        elif letter.path == "tk-unlinked":
            assert letter.dossier is not None
            letter.zaak_guid = f"fb000000-0000-4000-8000-{letter.seq:012d}"
            self.tk.add_zaak(
                letter.zaak_guid, f"2025Z{20000 + letter.seq}", letter.kind, letter.subject,
                [DOSSIER_GUIDS[letter.dossier]],
            )  # fmt: skip
            self._add_tk(letter, linked=False)
            letter.history.append("TK unlinked (Volgnummer -1, via Zaak)")
        else:
            self._add_tk(letter, linked=letter.path == "tk")

    def _add_tk(self, letter: Letter, *, linked: bool) -> None:
        numbered = linked and letter.dossier is not None
        titel = DOSSIER_TITLES.get(letter.dossier or 0, "Economische zaken")
        file: dict[str, Any] = {} if letter.content is None else {"content": letter.content}
        self.tk.add_document(
            letter.guid, f"2025D{40000 + letter.seq}", letter.kind, letter.subject, titel, self.today, "2024-2025",
            letter.volgnummer if numbered else -1,
            [DOSSIER_GUIDS[letter.dossier]] if numbered and letter.dossier else [],
            [letter.zaak_guid] if letter.zaak_guid else [],
            **file,
        )  # fmt: skip
        letter.in_tk, letter.numbered = True, numbered
        if letter.path != "tk-unlinked":
            letter.history.append("TK " + ("numbered" if numbered else "without dossier"))

    def _publish_sru(self, letter: Letter) -> None:
        self.sru.add_record(
            f"kst-{letter.dossier}-{letter.volgnummer}", dossier=str(letter.dossier), subtype=letter.kind,
            document_title=letter.subject, dossier_title=DOSSIER_TITLES[letter.dossier or 0], date=self.today,
            modified=self.today,
        )  # fmt: skip
        letter.in_sru = True
        letter.history.append("SRU publication")

    def apply_followups(self, cycle: int | None = None) -> int:
        """Do the follow-up steps due by ``cycle`` (None: all of them); return how many."""
        done = 0
        for letter in self.letters:
            while letter.followups and (cycle is None or letter.followups[0][0] <= cycle):
                _, action = letter.followups.pop(0)
                self._followup(letter, action)
                done += 1
        return done

    def _followup(self, letter: Letter, action: str) -> None:
        assert letter.dossier is not None
        if action == "number":
            self.tk.update_document(
                letter.guid, volgnummer=letter.volgnummer, dossier_guids=[DOSSIER_GUIDS[letter.dossier]]
            )
            letter.numbered = True
            letter.history.append("TK numbered and linked")
        elif action == "tk":
            self._add_tk(letter, linked=True)
        elif action == "sru":
            self._publish_sru(letter)
        elif action == "reprint":
            self.sru.add_record(
                f"kst-{letter.dossier}-{letter.volgnummer}-h1", ondernummer=str(letter.volgnummer),
                dossier=str(letter.dossier), subtype=letter.kind, document_title=f"{letter.subject} (herdruk)",
                dossier_title=DOSSIER_TITLES[letter.dossier], date=self.today, modified=self.today,
            )  # fmt: skip
            letter.reprinted = True
            letter.history.append("SRU reprint")

    # ------------------------------------------------------------------ faults

    def arm_faults(self) -> list[str]:
        """Arm a random set of faults on the four servers; return what was armed."""
        rng, armed = self.rng, []
        with self.tk._lock:
            tk_queued = len(self.tk._faults)
        if tk_queued < 3 and rng.random() < 0.35:
            mode, n = rng.choices(TK_FAULTS, TK_WEIGHTS)[0], rng.randint(1, 2)
            if mode == "503":
                self.tk.retry_after = rng.choice(HOSTILE_RETRY_AFTER)
                self.faults[f"retry-after:{self.tk.retry_after}"] += 1
            self.tk.fail_next(n, mode)
            armed.append(f"tk:{mode}x{n}")
        with self.sru._lock:
            sru_queued = len(self.sru._faults)
        if sru_queued < 3 and rng.random() < 0.3:
            mode, n = rng.choices(SRU_FAULTS, SRU_WEIGHTS)[0], rng.randint(1, 2)
            self.sru.fail_next(n, mode)
            armed.append(f"sru:{mode}x{n}")
        if rng.random() < 0.3:
            reply, stage, n = rng.choice(SMTP_REPLIES), rng.choice(["RCPT", "DATA"]), rng.randint(1, 3)
            self.smtp.fail_next(n, reply, stage=stage)  # type: ignore[arg-type]
            armed.append(f"smtp:{reply[:3]}@{stage}x{n}")
        if rng.random() < 0.2:  # each failed Slack send costs a second of the monitor's pacing
            n = rng.choice([1, 1, 2])
            mode = rng.choice(["429", "500", "hang", "drop"])
            if mode == "429":
                retry_after = rng.choice(["0.3", "1", *HOSTILE_RETRY_AFTER])
                self.slack.rate_limit_next(n, retry_after=retry_after)
                self.faults[f"retry-after:{retry_after}"] += 1
            else:
                self.slack.fail_next(n, mode)  # type: ignore[arg-type]
            armed.append(f"slack:{mode}x{n}")
        for name, server in ((TEAMS, self.teams), (HOOK, self.hook)):
            if rng.random() < 0.15:
                n, mode = rng.choice([1, 1, 2]), rng.choice(["429", "500", "503", "hang", "drop"])
                if mode == "429":
                    retry_after = rng.choice(["0.3", "1", *HOSTILE_RETRY_AFTER])
                    server.rate_limit_next(n, retry_after=retry_after)
                    self.faults[f"retry-after:{retry_after}"] += 1
                else:
                    server.fail_next(n, mode)
                armed.append(f"{name}:{mode}x{n}")
        for name in armed:
            self.faults[name.rsplit("x", 1)[0]] += 1
        return armed

    def disarm(self) -> None:
        """Forget every fault still queued on the four servers."""
        with self.tk._lock:
            self.tk._faults.clear()
        with self.sru._lock:
            self.sru._faults.clear()
        with self.smtp._lock:
            for queue in self.smtp._faults.values():
                queue.clear()
        self.slack.clear_faults()
        self.teams.clear_faults()
        self.hook.clear_faults()

    def acceptances(self) -> list[Raw]:
        """Every message a server accepted (the webhook receiver's copies included)."""
        return (
            email_acceptances(self.smtp)
            + slack_acceptances(self.slack)
            + teams_acceptances(self.teams)
            + hook_acceptances(self.hook)
        )


def _quiet_handle_error(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            original(request, client_address)

    return handle_error


def pdf_bomb(pages: int = 20, operations: int = 100_000) -> bytes:
    """A small, valid PDF that is slow to read: ``pages`` pages share one Flate content stream
    of ``operations`` text-showing operations (about 15 KB; minutes of text extraction)."""
    content = b"BT /F1 12 Tf 72 712 Td (Datum 1 mei 2025) Tj ET\n" * operations
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R"
    page += b" /Resources << /Font << /F1 4 0 R >> >> >>"
    objects += [page] * pages
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"\n[[{name}]]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- running the monitor


@dataclass(frozen=True)
class Kill:
    """When to SIGKILL a run: ``after`` seconds from its start, or right after it has had
    ``on_accept`` messages accepted (plus ``after`` seconds of jitter), whichever is asked."""

    after: float
    on_accept: int | None = None

    def __str__(self) -> str:
        if self.on_accept is None:
            return f"kill at {self.after:.2f} s"
        return f"kill {self.after * 1000:.0f} ms after acceptance #{self.on_accept}"


@dataclass
class Run:
    index: int
    phase: str  # baseline | chaos | clean | quiet
    start: float
    end: float = 0.0
    kill: Kill | None = None
    killed_at: float | None = None  # when SIGKILL was sent (None: ran to its end)
    returncode: int | None = None
    timed_out: bool = False
    stop_sent_at: float | None = None  # when SIGTERM was sent to a `run`
    armed: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def killed(self) -> bool:
        return self.killed_at is not None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""


# Starts the monitor so that it dies with the test process even if that is killed hard
# (Linux: PR_SET_PDEATHSIG survives the exec), without preexec_fn, which is unsafe with threads.
_EXEC_MONITOR = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'monitor', *sys.argv[1:]])\n"
)


# After SIGTERM, `run` must be gone within this long (the service promises 10 s).
STOP_LIMIT = 10.0


class Runner:
    """Runs ``python -m monitor --config <toml> poll --once`` (or ``run``) and kills it on request."""

    def __init__(
        self, config: Path, env: dict[str, str], logs: Path, accepted: AcceptCounter, run_timeout: float = 60.0
    ) -> None:
        self.config = config
        self.accepted = accepted
        self.env = env
        self.logs = logs
        self.run_timeout = run_timeout
        self.runs: list[Run] = []
        logs.mkdir(parents=True, exist_ok=True)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "monitor", "--config", str(self.config), *args]

    def service(self, phase: str, seconds: float, kill: Kill | None = None, armed: list[str] | None = None) -> Run:
        """``kamermonitor run`` for ``seconds``, then SIGTERM (it must stop within STOP_LIMIT) —
        or, with ``kill``, SIGKILL at that moment (at the latest after ``seconds``)."""

        def drive(proc: subprocess.Popen[bytes], run: Run, accepted_before: int) -> None:
            if kill is not None:
                self._wait_for_kill(proc, kill, accepted_before, limit=seconds)
                if proc.poll() is None:
                    run.killed_at = time.monotonic()
                    proc.kill()  # SIGKILL
            else:
                try:
                    proc.wait(timeout=seconds)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGTERM)
                    run.stop_sent_at = time.monotonic()
            proc.wait(timeout=STOP_LIMIT)

        return self._launch(phase, ("run",), kill, armed, drive)

    def poll(self, phase: str, kill: Kill | None = None, armed: list[str] | None = None) -> Run:
        def drive(proc: subprocess.Popen[bytes], run: Run, accepted_before: int) -> None:
            if kill is not None and self._wait_for_kill(proc, kill, accepted_before):
                run.killed_at = time.monotonic()
                proc.kill()  # SIGKILL
            proc.wait(timeout=self.run_timeout)

        return self._launch(phase, ("poll", "--once"), kill, armed, drive)

    def _launch(
        self,
        phase: str,
        args: tuple[str, ...],
        kill: Kill | None,
        armed: list[str] | None,
        drive: Callable[[subprocess.Popen[bytes], Run, int], None],
    ) -> Run:
        """Start the monitor with ``args``, let ``drive`` decide how it ends, and record the run."""
        run = Run(len(self.runs), phase, time.monotonic(), kill=kill, armed=armed or [])
        run.log = self.logs / f"run-{run.index:04d}-{phase}.log"
        self.runs.append(run)
        accepted_before = self.accepted.count
        with open(run.log, "wb") as log:
            command = [sys.executable, "-c", _EXEC_MONITOR, *self.command(*args)[3:]]
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.logs
            )
            try:
                drive(proc, run, accepted_before)
            except subprocess.TimeoutExpired:
                run.timed_out = True
            finally:
                if proc.poll() is None:
                    proc.kill()
                run.returncode = proc.wait(timeout=30)
                run.end = time.monotonic()
        return run

    def _wait_for_kill(
        self, proc: subprocess.Popen[bytes], kill: Kill, accepted_before: int, limit: float | None = None
    ) -> bool:
        """Wait for the moment to kill; False when the process ended first (or ``limit`` passed)."""
        if kill.on_accept is not None:
            deadline = time.monotonic() + (limit or self.run_timeout)
            while not self.accepted.wait_beyond(accepted_before + kill.on_accept - 1, 0.05):
                if proc.poll() is not None or time.monotonic() > deadline:
                    return False
        try:
            proc.wait(timeout=kill.after)
        except subprocess.TimeoutExpired:
            return True
        return False

    def startup_time(self, tries: int = 2) -> float:
        """How long the interpreter and the monitor's imports take here (``--version``)."""
        best = float("inf")
        for _ in range(tries):
            began = time.monotonic()
            subprocess.run(self.command("--version"), env=self.env, cwd=self.logs, capture_output=True, timeout=60)
            best = min(best, time.monotonic() - began)
        return best

    def status(self) -> str:
        proc = subprocess.run(
            self.command("status"), env=self.env, cwd=self.logs, capture_output=True, text=True, timeout=60
        )
        return proc.stdout + proc.stderr


# --------------------------------------------------------------------------- the database


def outbox_counts(database: Path) -> dict[str, int]:
    """status → rows ("pending" split into "pending" and "retrying" as `status` does)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT status, attempts > 0, count(*) FROM outbox GROUP BY 1, 2").fetchall()
    out: Counter[str] = Counter()
    for status, retried, n in rows:
        out["retrying" if status == "pending" and retried else status] += n
    return dict(out)


def source_health(database: Path) -> dict[str, tuple[str | None, int]]:
    """source → (last success, failures in a row)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT source, last_success, consecutive_failures FROM source_health").fetchall()
    return {source: (success, failures or 0) for source, success, failures in rows}


def explain_token(database: Path, token: str) -> str:
    """The monitor's records about one letter: letters, their matches and outbox rows."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        letters = conn.execute(
            "SELECT id, dossiers, kind, number, deleted, ob_identifier FROM letters WHERE subject LIKE ?",
            (f"%{token}%",),
        ).fetchall()
        parts = [f"letters {letters}"]
        for letter_id, *_ in letters:
            keys = conn.execute("SELECT key FROM letter_keys WHERE letter_id = ?", (letter_id,)).fetchall()
            matches = conn.execute("SELECT watch, silent FROM matches WHERE letter_id = ?", (letter_id,)).fetchall()
            outbox = conn.execute(
                "SELECT channel, target, status, attempts, last_error FROM outbox WHERE letter_id = ?", (letter_id,)
            ).fetchall()
            parts.append(f"#{letter_id}: keys {[k for (k,) in keys]} matches {matches} outbox {outbox}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Acceptance:
    """One message a server accepted: when, where, which letters it names, and its text."""

    at: float
    channel: str
    target: str
    title: str  # e-mail subject, or the first line of Slack's text
    text: str  # everything searchable: subject and body, or the whole Slack payload
    tokens: tuple[str, ...]
    run: int | None  # the run it is attributed to (see attribute())

    def kind(self, letter: Letter | None) -> str:
        """ "new" for the letter's first alert (alone or in a digest), "followup" for a later message about it."""
        if letter is None or letter.heading() in self.title or DIGEST_TITLE.search(self.title):
            return "new"
        return "followup"


@dataclass
class Report:
    stream: int
    seed: int
    cycles: int
    wanted_cycles: int
    capped: bool
    elapsed: float
    chaos_seconds: float
    runs: list[Run]
    letters: list[Letter]
    acceptances: list[Acceptance]
    faults: Counter[str]
    lost: list[str] = field(default_factory=list)
    publication_missed: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # one per letter and recipient sent twice
    # Messages accepted twice: a digest sent again names each of its letters again, so one
    # accept-then-kill window may account for several letters' duplicates, never two messages.
    duplicate_messages: int = 0
    unexplained: list[str] = field(default_factory=list)
    windows: int = 0
    bad_runs: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    status_text: str = ""
    drained: bool = False
    quiet_new: list[str] = field(default_factory=list)
    database: Path | None = None

    @property
    def kills(self) -> int:
        return sum(1 for r in self.runs if r.killed)

    @property
    def deliveries(self) -> int:
        return sum(len(a.tokens) for a in self.acceptances) - self.followups

    @property
    def followups(self) -> int:
        by_token = {x.token: x for x in self.letters}
        return sum(1 for a in self.acceptances for t in a.tokens if a.kind(by_token.get(t)) == "followup")

    def summary(self) -> str:
        dup = len(self.duplicates)
        if not self.unexplained:
            why = "all in accept-then-kill windows"
        else:
            why = f"{len(self.unexplained)} NOT in an accept-then-kill window"
        line = (
            f"fault harness: {self.cycles} cycles, {self.kills} kills, {len(self.letters)} letters, "
            f"{self.deliveries} deliveries (+{self.followups} publication follow-ups), "
            f"{dup} duplicates in {self.duplicate_messages} message(s) ({why}; {self.windows} such windows)"
        )
        if self.capped:
            per = self.chaos_seconds / max(self.cycles, 1)
            line += f" — stopped at the wall-clock cap after {self.cycles}/{self.wanted_cycles} cycles"
            line += f" ({per:.2f} s/cycle)"
        return line

    def details(self) -> str:
        """Everything needed to understand a failure, with the seed to reproduce it."""
        lines = [
            f"monitor #{self.stream}: " + self.summary(),
            f"seed {self.seed} (rerun with KAMERMONITOR_FAULT_SEED={self.seed})",
        ]
        lines.append(f"elapsed {self.elapsed:.1f} s, randomized phase {self.chaos_seconds:.1f} s")
        lines.append("faults armed: " + ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items())))
        lines.append(f"outbox at the end: {self.outbox}; drained={self.drained}")
        sections = [
            ("lost", self.lost), ("publication news lost", self.publication_missed),
            ("unexpected", self.unexpected), ("unexplained duplicates", self.unexplained),
            ("bad runs", self.bad_runs), ("tracebacks", self.tracebacks), ("new after drain", self.quiet_new),
        ]  # fmt: skip
        for title, items in sections:
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {item}" for item in items[:15]]
        if self.database is not None:
            lines.append(f"database and run logs: {self.database.parent}")
        return "\n".join(lines)


DIGEST_TITLE = re.compile(r"\b\d+ nieuwe brieven\b")
Raw = tuple[float, str, str, str, str]  # (when, channel, target, title, text)


def email_acceptances(smtp: SmtpServer) -> list[Raw]:
    messages: StampedList = smtp.messages  # type: ignore[assignment]
    with smtp._lock:
        items = list(zip(messages.times, messages, strict=True))
    out = []
    for at, msg in items:
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(("plain",))
        subject = str(msg["Subject"])
        out.append((at, MAIL, str(msg["To"]), subject, subject + "\n" + (body.get_content() if body else "")))
    return out


def slack_acceptances(slack: SlackServer) -> list[Raw]:
    messages: StampedList = slack.messages  # type: ignore[assignment]
    with slack._lock:
        items = list(zip(messages.times, messages, strict=True))
    out = []
    for at, payload in items:
        title = str(payload.get("text") or "").split("\n", 1)[0]
        out.append((at, SLACK, "", title, json.dumps(payload, ensure_ascii=False)))
    return out


def _stamped(server: Any, items: StampedList) -> list[tuple[float, Any]]:
    with server._lock:
        return list(zip(items.times, items, strict=True))


def teams_acceptances(teams: TeamsServer) -> list[Raw]:
    """Teams cards; the title is the card's fallback text (the e-mail subject)."""
    out = []
    for at, message in _stamped(teams, teams.messages):  # type: ignore[arg-type]
        card = message["attachments"][0]["content"]
        out.append((at, TEAMS, "", str(card.get("fallbackText", "")), json.dumps(message, ensure_ascii=False)))
    return out


def hook_acceptances(hook: WebhookReceiver) -> list[Raw]:
    """Webhook bodies; the title says what an alert's title would (a heading, a digest, a follow-up)."""
    out = []
    for at, body in _stamped(hook, hook.received):  # type: ignore[arg-type]
        data, letters = body["data"], body["data"]["letters"]
        if data["is_followup"]:
            title = f"followup: {data['followup']}"
        elif data["digest"]:
            title = f"{len(letters)} nieuwe brieven"
        else:
            title = f"{letters[0]['kind']}: {letters[0]['subject']}" if letters else str(data["text"])
        out.append((at, HOOK, "", title, json.dumps(body, ensure_ascii=False)))
    return out


# A run cannot send anything this soon after it starts (the interpreter and the monitor's
# imports alone take longer), while a killed run's last message may reach the server a
# moment after the SIGKILL: so an acceptance this close to a start is the previous run's.
STARTUP_FLOOR = 0.25


def attribute(runs: list[Run], raw: list[Raw]) -> list[Acceptance]:
    """Give each acceptance to the run that sent it: the last one started (well) before it."""
    starts = [r.start for r in runs]
    out = []
    for at, channel, target, title, text in sorted(raw):
        i = bisect.bisect_right(starts, at - STARTUP_FLOOR) - 1
        tokens = tuple(dict.fromkeys(TOKEN_RE.findall(text)))
        out.append(Acceptance(at, channel, target, title, text, tokens, runs[i].index if i >= 0 else None))
    return out


def analyse(report: Report) -> None:
    """Fill in lost, unexpected and duplicate messages, and explain the duplicates.

    Per letter and recipient the monitor owes one first alert and, when the letter's
    official publication appeared after that alert went out, one follow-up saying so.
    """
    by_token = {x.token: x for x in report.letters}
    copies: dict[tuple[str, str, str, str], list[Acceptance]] = defaultdict(list)
    for acc in report.acceptances:
        if not acc.tokens:
            report.unexpected.append(f"a {acc.channel} message to {acc.target or 'the webhook'}: {acc.title!r}")
        for token in acc.tokens:
            copies[(token, acc.channel, acc.target, acc.kind(by_token.get(token)))].append(acc)

    # The last acceptance of each killed run is the one message that may have been accepted
    # and not yet recorded when the process died (deliveries are sent one at a time).
    last_of_run: dict[int, Acceptance] = {}
    for acc in report.acceptances:
        if acc.run is not None:
            last_of_run[acc.run] = acc
    killed = {r.index for r in report.runs if r.killed}
    report.windows = sum(1 for i in killed if i in last_of_run)

    for letter in report.letters:
        for channel, target in sorted(letter.targets):
            where = channel + (f" to {target}" if target else "")
            news = copies.get((letter.token, channel, target, "new"), [])
            if not news:
                report.lost.append(f"{where}: {letter.describe()}")
                continue
            followups = copies.get((letter.token, channel, target, "followup"))
            if letter.in_sru and not followups and not any(letter.publication_url in a.text for a in news):
                report.publication_missed.append(f"{where}: {letter.describe()}")
    repeated: set[int] = set()  # the acceptances that were copies
    for (token, channel, target, kind), accs in sorted(copies.items()):
        about = by_token.get(token)
        where = f"{channel}{f' to {target}' if target else ''} ({kind})"
        if about is None or (channel, target) not in about.targets:
            what = about.describe() if about else token
            report.unexpected.append(f"{where}: {len(accs)} message(s) for {what}")
            continue
        if kind == "followup":
            news = [a for a in copies.get((token, channel, target, "new"), []) if a.at < accs[0].at]
            if not about.in_sru:
                report.unexpected.append(f"{where}: a follow-up, but no publication: {about.describe()}")
            elif not news:
                report.unexpected.append(f"{where}: a follow-up before the first alert: {about.describe()}")
            elif any(about.publication_url in a.text for a in news):
                report.unexpected.append(
                    f"{where}: a follow-up though the first alert named the publication: {about.describe()}"
                )
        for acc in accs[:-1]:  # every copy but the last must have gone unrecorded
            runs = f"runs {[a.run for a in accs]}"
            report.duplicates.append(f"{where}: {token} {runs}")
            repeated.add(id(acc))
            if acc.run not in killed or last_of_run.get(acc.run) is not acc:
                why = "run not killed" if acc.run not in killed else "not the last message of its killed run"
                report.unexplained.append(f"{where}: {about.describe()}; {runs}; copy in run {acc.run}: {why}")

    report.duplicate_messages = len(repeated)
    if report.database is not None and report.database.exists():  # what the monitor recorded, to start from
        for items in (report.lost, report.publication_missed, report.unexplained):
            items[:] = [_with_records(report.database, item) for item in items]

    for run in report.runs:
        text = run.output()
        if TRACEBACK in text:
            start = text.index(TRACEBACK)
            report.tracebacks.append(f"run {run.index} ({run.phase}): {text[start : start + 1500]}")
        if run.timed_out:
            report.bad_runs.append(f"run {run.index} ({run.phase}) did not finish within its timeout")
        elif run.stop_sent_at is not None and run.end - run.stop_sent_at > STOP_LIMIT:
            report.bad_runs.append(f"run {run.index} ({run.phase}) took {run.end - run.stop_sent_at:.1f} s to stop")
        elif not run.killed and run.returncode != 0 and not (run.returncode == 1 and SOURCE_FAILED in text):
            # Exit 1 is `poll --once` saying a source failed (faults are injected on purpose);
            # any other exit, or 1 without that line, is a bad run.
            report.bad_runs.append(f"run {run.index} ({run.phase}) exited {run.returncode}: {text[-1500:]}")


def _with_records(database: Path, item: str) -> str:
    token = TOKEN_RE.search(item)
    return f"{item}\n    recorded: {explain_token(database, token[0])}" if token else item


# --------------------------------------------------------------------------- the randomized run


@dataclass(frozen=True)
class Plan:
    """How hard to hit the monitor; the numbers are explained in tests/test_fault_harness.py."""

    cycles: int
    cap_seconds: float
    kill_fraction: float = 0.5
    on_accept_share: float = 0.35
    max_kill_delay: float = 1.5
    first_start_kills: int = 2
    drain_seconds: float = 90.0
    letter_weights: tuple[int, int, int] = (50, 38, 12)  # 0, 1 or 2 new letters a cycle
    # Of every four cycles: two run the service (`run`) and SIGKILL it, one runs it and stops
    # it with SIGTERM, one is a `poll --once` (killed with ``kill_fraction``).  So at least
    # half the cycles end in a SIGKILL.
    modes: tuple[str, ...] = ("run-kill", "run-stop", "run-kill", "poll")
    max_run_seconds: float = 3.0  # a service cycle lasts start-up plus up to this

    def mode(self, cycle: int) -> str:
        return self.modes[cycle % len(self.modes)]


class Stream:
    """One monitor under fire, with its own servers, database and random sequence."""

    SOURCES = ("syncfeed", "sru")

    def __init__(self, index: int, seed: int, tmp: Path) -> None:
        self.index = index
        self.seed = seed
        self.rng = random.Random(f"{seed}/{index}")
        self.world = World(self.rng, tmp)
        self.startup = 1.0

    def _messages(self) -> int:
        world = self.world
        return sum(
            len(x) for x in (world.smtp.messages, world.slack.messages, world.teams.messages, world.hook.received)
        )

    def kill(self, plan: Plan, *, always: bool = False) -> Kill | None:
        """No kill, a kill at a random moment of the run, or one right after a channel
        accepted a message (the window in which the monitor has not yet recorded the send)."""
        rng = self.rng
        if rng.random() >= plan.kill_fraction and not always:
            return None
        if rng.random() < plan.on_accept_share:
            return Kill(rng.choice([0.0, rng.uniform(0, 0.01)]), on_accept=rng.choice([1, 1, 1, 2, 3]))
        # The interpreter and the monitor's imports take `startup`; a kill in its first 3/4 hits nothing.
        return Kill(0.75 * self.startup + rng.uniform(0, plan.max_kill_delay))

    def drive(self, plan: Plan, cycles: int) -> Report:
        """Prepare, hit the monitor for ``cycles`` cycles (or ``plan.cap_seconds``), drain, analyse."""
        started = time.monotonic()
        world, rng = self.world, self.rng
        world.start()
        world.seed_history()
        runner = Runner(world.write_config(), world.env(), world.tmp / "runs", world.accepted)
        self.startup = runner.startup_time()  # (also byte-compiles everything, once)
        # A first start killed early (creating the database, finding the feed's end, the
        # backfill) must not keep the next one from working; then one clean cycle, which
        # records what exists and alerts nothing.
        for _ in range(plan.first_start_kills):
            runner.poll("first-start", Kill(0.75 * self.startup + rng.uniform(0, 1.0)))
        first = runner.poll("baseline")
        if first.returncode != 0 or TRACEBACK in first.output() or self._messages():
            raise AssertionError(
                f"seed {self.seed}, monitor #{self.index}: the first fault-free poll failed "
                f"(exit {first.returncode}, {self._messages()} messages):\n{first.output()}"
            )

        chaos_started = time.monotonic()
        deadline = chaos_started + plan.cap_seconds
        done = 0
        for cycle in range(cycles):
            if time.monotonic() >= deadline:
                break
            world.apply_followups(cycle)
            for _ in range(rng.choices([0, 1, 2], plan.letter_weights)[0]):
                world.new_letter(cycle)
            if cycle == 2:  # one burst, so that digests are always exercised, not only when polls lag
                for _ in range(3):
                    world.new_letter(cycle, burst=True)
            armed = world.arm_faults()
            mode = plan.mode(cycle)
            if mode == "poll":
                runner.poll("chaos", self.kill(plan), armed)
            else:  # the service: killed at a random moment or right after an acceptance, or stopped
                kill = self.kill(plan, always=True) if mode == "run-kill" else None
                # A SIGTERM is sent once the interpreter is up (before that it simply kills).
                seconds = (0.75 if kill else 1.0) * self.startup + rng.uniform(0.5, plan.max_run_seconds)
                runner.service("chaos-run", seconds, kill, armed)
            done += 1
        chaos_seconds = time.monotonic() - chaos_started

        # Lift every fault, finish every publication, and let clean cycles catch up.
        world.disarm()
        world.apply_followups()
        drained = self._drain(plan, runner)
        runner.poll("quiet")  # once more: nothing may be sent again
        raw = world.acceptances()
        report = Report(
            stream=self.index, seed=self.seed, cycles=done, wanted_cycles=cycles, capped=done < cycles,
            elapsed=time.monotonic() - started, chaos_seconds=chaos_seconds, runs=runner.runs,
            letters=world.letters, acceptances=attribute(runner.runs, raw), faults=world.faults,
            outbox=outbox_counts(world.database), status_text=runner.status(), drained=drained,
            database=world.database,
        )  # fmt: skip
        quiet = runner.runs[-1].index
        report.quiet_new = [f"{a.channel} {a.target} {a.tokens}" for a in report.acceptances if a.run == quiet]
        analyse(report)
        return report

    def _drain(self, plan: Plan, runner: Runner) -> bool:
        """Clean cycles until both sources were polled successfully and the outbox is empty."""
        polled: set[str] = set()
        database = self.world.database
        deadline = time.monotonic() + plan.drain_seconds
        while time.monotonic() < deadline:
            before = source_health(database)
            runner.poll("clean")
            after = source_health(database)
            for source in self.SOURCES:
                success, failures = after.get(source, (None, 1))
                if failures == 0 and success is not None and success != before.get(source, (None, 0))[0]:
                    polled.add(source)
            counts = outbox_counts(database)
            if polled == set(self.SOURCES) and not any(counts.get(k) for k in ("pending", "retrying", "sending")):
                return True
            time.sleep(0.3)  # e.g. a Retry-After still running
        return False


def run_streams(plan: Plan, seed: int, streams: int, tmp: Path) -> list[Report]:
    """``streams`` independent monitors at once (one per core), sharing ``plan.cycles``."""
    shares = [plan.cycles // streams + (1 if i < plan.cycles % streams else 0) for i in range(streams)]
    workers = [Stream(i, seed, tmp / f"monitor{i}") for i in range(streams)]
    reports: list[Report | None] = [None] * streams
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            reports[i] = workers[i].drive(plan, shares[i])
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"fault-stream-{i}", daemon=True) for i in range(streams)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for worker in workers:
            worker.world.stop()
    if errors:
        raise errors[0]
    return [r for r in reports if r is not None]


def summary(reports: list[Report]) -> str:
    """The one line the harness prints: totals over all monitors."""
    cycles = sum(r.cycles for r in reports)
    dups, unexplained = sum(len(r.duplicates) for r in reports), sum(len(r.unexplained) for r in reports)
    why = "all in accept-then-kill windows" if not unexplained else f"{unexplained} NOT in an accept-then-kill window"
    kills = sum(r.kills for r in reports)
    on_accept = sum(1 for r in reports for run in r.runs if run.killed and run.kill and run.kill.on_accept)
    line = (
        f"fault harness: {cycles} cycles, {kills} kills ({on_accept} right after an acceptance), "
        f"{sum(len(r.letters) for r in reports)} letters, {sum(r.deliveries for r in reports)} deliveries "
        f"(+{sum(r.followups for r in reports)} publication follow-ups), {dups} duplicates "
        f"({why}; {sum(r.windows for r in reports)} such windows)"
    )
    wanted = sum(r.wanted_cycles for r in reports)
    if cycles < wanted:
        line += f" — stopped at the wall-clock cap after {cycles} of {wanted} cycles"
    return line
