"""Building blocks of the fault-injection harness (``tests/test_fault_harness.py``).

A :class:`World` owns the four local servers (SyncFeed, SRU, SMTP, Slack), publishes
letters at the sources the way the real services do (a TK document first unlinked with
Volgnummer -1 and numbered later, an SRU publication before the TK document, reprints),
and arms random faults on all four.  :class:`Runner` starts ``kamermonitor poll --once``
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
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT

REPO = Path(__file__).resolve().parent.parent
DOSSIER_33529 = "0b5e4b7a-6e7e-4d7f-9c55-33529a000001"
GAS = "Gaswinning uit het Groningenveld"
DOSSIER_GUIDS = {26643: DOSSIER_26643, 33529: DOSSIER_33529}
DOSSIER_TITLES = {26643: ICT, 33529: GAS}
RECIPIENTS = ("beleid@example.org", "pa-team@example.org")
KEYWORD = "kwantumchip"
SLACK_ENV = "KAMERMONITOR_FAULT_SLACK_WEBHOOK"
TOKEN_RE = re.compile(r"\bFH\d{5}\b")
MAIL, SLACK = "mail", "slack"
TRACEBACK = "Traceback (most recent call last)"

# What the configuration below says, in the harness's own words (used to compute expectations).
WATCHES = [
    {"name": "ict", "dossiers": ["26643"], "channels": [MAIL, SLACK]},
    {"name": "kwantum", "keywords": [KEYWORD], "channels": [MAIL, SLACK]},
    {"name": "ict-alles", "dossiers": ["26643"], "kinds": ["*"], "channels": [SLACK]},  # shares slack with ict
]

TK_FAULTS = ["500", "503", "429", "html", "truncated", "malformed", "dtd", "hang", "drop", "gzipbomb", "endless"]
TK_WEIGHTS = [3, 1, 2, 2, 3, 2, 1, 1, 3, 1, 1]  # hangs cost a read timeout: rarer
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

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


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
        if SLACK in self.channels:
            out.add((SLACK, ""))
        return out

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
        self.today = today_amsterdam()
        self.tk = TkFeedServer(first_token=30_000_000, hang_seconds=1.5, endless_limit=8 * 1024 * 1024)
        self.sru = SruServer(hang_seconds=1.5)
        self.smtp = SmtpServer()
        self.slack = SlackServer(hang_seconds=1.5)
        self.smtp.messages = StampedList()
        self.slack.messages = StampedList()
        self.letters: list[Letter] = []
        self.faults: Counter[str] = Counter()
        self._seq = 0

    def start(self) -> World:
        self.tk.start()
        self.sru.start()
        self.smtp.start()
        self.slack.start()
        return self

    def stop(self) -> None:
        for server in (self.tk, self.sru, self.smtp, self.slack):
            try:
                server.stop()
            except Exception as exc:  # stop the others anyway
                print(f"fault harness: stopping {type(server).__name__} failed: {exc}", file=sys.stderr)

    # ------------------------------------------------------------------ configuration

    @property
    def database(self) -> Path:
        return self.tmp / "kamermonitor.db"

    def write_config(self) -> Path:
        watches = "".join(_toml_table("watch", w) for w in WATCHES)
        text = f"""
[monitor]
database = "sqlite:///{self.database}"

[http]
connect_timeout = 1
read_timeout = 1
max_response_mb = 4
pause_seconds = 0

[sources.syncfeed]
base_url = "{self.tk.base_url}"

[sources.sru]
base_url = "{self.sru.base_url}"

[delivery]
max_attempts = 10000
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2
lease_seconds = 3
digest_threshold = 1000

[[channel]]
name = "{MAIL}"
type = "email"
host = "127.0.0.1"
port = {self.smtp.port}
security = "none"
from = "Kamermonitor <alerts@example.org>"
to = {json.dumps(list(RECIPIENTS))}
timeout = 2

[[channel]]
name = "{SLACK}"
type = "slack"
webhook_url_env = "{SLACK_ENV}"
timeout = 1
{watches}"""
        path = self.tmp / "kamermonitor.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAMERMONITOR_")}
        for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.pop(var, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        # Byte-compile once for all runs (outside the repository), not in every one of them.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")
        env[SLACK_ENV] = self.slack.url_for("goodhook")
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

    def new_letter(self, cycle: int) -> Letter:
        rng = self.rng
        self._seq += 1
        seq = self._seq
        token = f"FH{seq:05d}"
        roll = rng.random()
        if roll < 0.45:  # a letter in the watched dossier, sometimes also naming the keyword
            dossier, kind, keyword = 26643, "Brief regering", rng.random() < 0.25
            path = rng.choices(["tk", "tk-unlinked", "sru-first"], [4, 3, 3])[0]
        elif roll < 0.60:  # another kind in the watched dossier: only the "*" watch (Slack) wants it
            dossier, kind, keyword = 26643, "Motie", False
            path = rng.choice(["tk", "tk-unlinked"])
        elif roll < 0.80:  # the keyword, elsewhere
            dossier, kind, keyword = rng.choice([33529, None]), "Brief regering", True
            path = rng.choice(["tk", "tk-unlinked"]) if dossier else "tk-nodossier"
        else:  # noise: must never be alerted
            dossier, path = 33529, "tk"
            kind, keyword = rng.choice([("Brief regering", False), ("Motie", True)])
        topic = f"over de {KEYWORD}" if keyword else "over digitale weerbaarheid"
        subject = f"{'Kabinetsbrief' if kind.startswith('Brief') else 'Motie'} {topic} {token}"
        letter = Letter(
            seq, token, dossier, kind, keyword, path, subject,
            volgnummer=(1400 if dossier == 26643 else 700) + seq,
            guid=f"fa000000-0000-4000-8000-{seq:012d}",
        )  # fmt: skip
        self.letters.append(letter)
        letter.published_cycle = cycle
        self._first_step(letter)
        due = cycle
        for action in self._plan(letter):
            due += rng.randint(1, 4)
            letter.followups.append((due, action))
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
        self.tk.add_document(
            letter.guid, f"2025D{40000 + letter.seq}", letter.kind, letter.subject, titel, self.today, "2024-2025",
            letter.volgnummer if numbered else -1,
            [DOSSIER_GUIDS[letter.dossier]] if numbered and letter.dossier else [],
            [letter.zaak_guid] if letter.zaak_guid else [],
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
        if rng.random() < 0.3:
            n = rng.randint(1, 2)
            mode = rng.choice(["429", "500", "hang", "drop"])
            if mode == "429":
                self.slack.rate_limit_next(n, retry_after=rng.choice(["0.3", "1"]))
            else:
                self.slack.fail_next(n, mode)  # type: ignore[arg-type]
            armed.append(f"slack:{mode}x{n}")
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


def _toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"\n[[{name}]]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- running the monitor


@dataclass
class Run:
    index: int
    phase: str  # baseline | chaos | clean | quiet
    start: float
    end: float = 0.0
    kill_after: float | None = None
    killed_at: float | None = None  # when SIGKILL was sent (None: ran to its end)
    returncode: int | None = None
    timed_out: bool = False
    armed: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def killed(self) -> bool:
        return self.killed_at is not None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""


class Runner:
    """Runs ``python -m monitor --config <toml> poll --once`` and kills it on request."""

    def __init__(self, config: Path, env: dict[str, str], logs: Path, run_timeout: float = 60.0) -> None:
        self.config = config
        self.env = env
        self.logs = logs
        self.run_timeout = run_timeout
        self.runs: list[Run] = []
        logs.mkdir(parents=True, exist_ok=True)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "monitor", "--config", str(self.config), *args]

    def poll(self, phase: str, kill_after: float | None = None, armed: list[str] | None = None) -> Run:
        run = Run(len(self.runs), phase, time.monotonic(), kill_after=kill_after, armed=armed or [])
        run.log = self.logs / f"run-{run.index:04d}-{phase}.log"
        self.runs.append(run)
        with open(run.log, "wb") as log:
            proc = subprocess.Popen(
                self.command("poll", "--once"), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.logs,
            )  # fmt: skip
            try:
                if kill_after is not None:
                    try:
                        proc.wait(timeout=kill_after)
                    except subprocess.TimeoutExpired:
                        run.killed_at = time.monotonic()
                        proc.kill()  # SIGKILL
                proc.wait(timeout=self.run_timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
            finally:
                if proc.poll() is None:
                    proc.kill()
                run.returncode = proc.wait(timeout=30)
                run.end = time.monotonic()
        return run

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
            matches = conn.execute(
                "SELECT watch, silent FROM matches WHERE letter_id = ?", (letter_id,)
            ).fetchall()
            outbox = conn.execute(
                "SELECT channel, target, status, attempts, last_error FROM outbox WHERE letter_id = ?", (letter_id,)
            ).fetchall()
            parts.append(f"#{letter_id}: keys {[k for (k,) in keys]} matches {matches} outbox {outbox}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Acceptance:
    """One message a server accepted: when, where, and which letters it names."""

    at: float
    channel: str
    target: str
    tokens: tuple[str, ...]
    run: int | None  # the run it is attributed to (the last one started before it)


@dataclass
class Report:
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
    unexpected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
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
        return sum(len(a.tokens) for a in self.acceptances)

    def summary(self) -> str:
        dup = len(self.duplicates)
        if not self.unexplained:
            why = "all in accept-then-kill windows"
        else:
            why = f"{len(self.unexplained)} NOT in an accept-then-kill window"
        line = (
            f"fault harness: {self.cycles} cycles, {self.kills} kills, {len(self.letters)} letters, "
            f"{self.deliveries} deliveries, {dup} duplicates ({why}; {self.windows} windows)"
        )
        if self.capped:
            per = self.chaos_seconds / max(self.cycles, 1)
            line += f" — STOPPED AT THE WALL-CLOCK CAP after {self.cycles}/{self.wanted_cycles} cycles ({per:.2f} s/cycle)"
        return line

    def details(self) -> str:
        """Everything needed to understand a failure, with the seed to reproduce it."""
        lines = [self.summary(), f"seed {self.seed} (rerun with KAMERMONITOR_FAULT_SEED={self.seed})"]
        lines.append(f"elapsed {self.elapsed:.1f} s, randomized phase {self.chaos_seconds:.1f} s")
        lines.append("faults armed: " + ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items())))
        lines.append(f"outbox at the end: {self.outbox}; drained={self.drained}")
        for title, items in [
            ("lost", self.lost), ("unexpected", self.unexpected), ("unexplained duplicates", self.unexplained),
            ("bad runs", self.bad_runs), ("tracebacks", self.tracebacks), ("new after drain", self.quiet_new),
        ]:  # fmt: skip
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {item}" for item in items[:15]]
        if self.database is not None:
            lines.append(f"database and run logs: {self.database.parent}")
        return "\n".join(lines)


def email_acceptances(smtp: SmtpServer) -> list[tuple[float, str, str, tuple[str, ...]]]:
    messages: StampedList = smtp.messages  # type: ignore[assignment]
    out = []
    with smtp._lock:
        items = list(zip(messages.times, messages, strict=True))
    for at, msg in items:
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(("plain",))
        text = str(msg["Subject"]) + "\n" + (body.get_content() if body is not None else "")
        out.append((at, MAIL, str(msg["To"]), tuple(dict.fromkeys(TOKEN_RE.findall(text)))))
    return out


def slack_acceptances(slack: SlackServer) -> list[tuple[float, str, str, tuple[str, ...]]]:
    messages: StampedList = slack.messages  # type: ignore[assignment]
    with slack._lock:
        items = list(zip(messages.times, messages, strict=True))
    return [
        (at, SLACK, "", tuple(dict.fromkeys(TOKEN_RE.findall(json.dumps(payload, ensure_ascii=False)))))
        for at, payload in items
    ]


def attribute(runs: list[Run], raw: list[tuple[float, str, str, tuple[str, ...]]]) -> list[Acceptance]:
    """Give each acceptance to the run that was the last to start before it."""
    starts = [r.start for r in runs]
    out = []
    for at, channel, target, tokens in sorted(raw):
        i = bisect.bisect_right(starts, at) - 1
        out.append(Acceptance(at, channel, target, tokens, runs[i].index if i >= 0 else None))
    return out


def analyse(report: Report) -> None:
    """Fill in lost, unexpected and duplicate deliveries, and explain the duplicates."""
    by_token = {x.token: x for x in report.letters}
    copies: dict[tuple[str, str, str], list[Acceptance]] = defaultdict(list)
    for acc in report.acceptances:
        if not acc.tokens:
            report.unexpected.append(f"a {acc.channel} message to {acc.target or 'the webhook'} names no letter")
        for token in acc.tokens:
            copies[(token, acc.channel, acc.target)].append(acc)

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
            if not copies.get((letter.token, channel, target)):
                where = channel + (f" to {target}" if target else "")
                report.lost.append(f"{where}: {letter.describe()}")
    for (token, channel, target), accs in sorted(copies.items()):
        letter = by_token.get(token)
        where = channel + (f" to {target}" if target else "")
        if letter is None or (channel, target) not in letter.targets:
            what = letter.describe() if letter else token
            report.unexpected.append(f"{where}: {len(accs)} message(s) for {what}")
            continue
        for acc in accs[:-1]:  # every copy but the last must have gone unrecorded
            runs = f"runs {[a.run for a in accs]}"
            report.duplicates.append(f"{where}: {token} {runs}")
            if acc.run not in killed or last_of_run.get(acc.run) is not acc:
                why = "run not killed" if acc.run not in killed else "not the last message of its killed run"
                report.unexplained.append(f"{where}: {letter.describe()}; {runs}; copy in run {acc.run}: {why}")

    for run in report.runs:
        text = run.output()
        if TRACEBACK in text:
            start = text.index(TRACEBACK)
            report.tracebacks.append(f"run {run.index} ({run.phase}): {text[start : start + 1500]}")
        if run.timed_out:
            report.bad_runs.append(f"run {run.index} ({run.phase}) did not finish within its timeout")
        elif not run.killed and run.returncode != 0:
            report.bad_runs.append(f"run {run.index} ({run.phase}) exited {run.returncode}: {text[-1500:]}")

