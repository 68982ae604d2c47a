"""``kamermonitor doctor``: a live, read-only check of everything the configuration names.

One line per item, printed as soon as it is known: ``OK``, ``WARNING`` or ``ERROR``, what
was checked, and the exact cause.  For each enabled source: DNS, TCP connect, TLS
(certificate and its expiry), HTTP, and whether the answer has the shape its poll expects
(each source's own check, :meth:`monitor.sources.Source.check`).  For each e-mail channel:
connect, EHLO, STARTTLS and AUTH, then QUIT without sending.  For each Slack channel: the
webhook URL's form and its endpoint, and with ``--send`` a test message.  The database: URL,
driver, schema version and write access (tested by a write that is rolled back).  The
``[web]`` listen address: a running kamermonitor answers ``/healthz`` there, or the address
is free to bind (the test socket is closed at once).  Exit 0 when everything is ok, 1 on a
warning, 2 on an error.

It never moves a cursor, queues a delivery or creates a database: it uses no Context
and opens the store without migrating.

This package: ``core.py`` (the report and the steps: DNS, connect, TLS, HTTP; the
sources' checks use them), ``channels.py``, ``store.py`` (the database) and ``web.py``,
one module per kind of thing checked; :func:`run` calls them in that order.
"""

from __future__ import annotations

from typing import TextIO

from ..config import Settings
from ..notify.email_options import EmailOptions
from ..notify.slack import SlackOptions
from ..sources import SOURCES
from .channels import check_email, check_other, check_slack
from .core import EXIT, Doctor, fetcher_for, http_step
from .store import check_database
from .web import check_web

# The sources' own checks (monitor/sources/*/doctor.py) take these from here.
__all__ = ["Doctor", "http_step", "run"]


def run(settings: Settings, out: TextIO, *, send: bool = False) -> int:
    doc = Doctor(settings, out, send)
    where = settings.source_path or "built-in defaults"
    doc.say("ok", "config", f"{where}: {len(settings.watches)} watch(es), {len(settings.channels)} channel(s)")
    fetcher = fetcher_for(settings)
    try:
        for name, source in SOURCES.items():
            if settings.sources[name].enabled:
                with doc.item():
                    source.check(doc, fetcher)
            else:
                doc.say("ok", name, "disabled; not checked")
    finally:
        fetcher.client.close()
    for cfg in settings.channels:
        with doc.item():
            if isinstance(cfg.options, EmailOptions):
                check_email(doc, cfg, cfg.options)
            elif isinstance(cfg.options, SlackOptions):
                check_slack(doc, cfg, cfg.options)
            else:
                check_other(doc, cfg)
    with doc.item():
        check_database(doc)
    with doc.item():
        check_web(doc)
    print(f"doctor: {doc.worst}", file=out)
    return EXIT[doc.worst]
