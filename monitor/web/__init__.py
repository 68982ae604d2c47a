"""The HTTP surface: health, readiness, Prometheus metrics, an Atom feed per watch, a status page.

Served by waitress (``server.py``) in a thread of its own, inside ``kamermonitor run`` when
``[web] listen`` is set, or alone in ``kamermonitor serve``.  It only reads: its database
connections come from a read-only engine of their own (``store.db.open_reader``), so a
page view never waits for, nor holds up, a poll or a delivery.

- ``app.py``: the WSGI application: routing, methods, the token, conditional GET.
- ``health.py``: ``/healthz`` and ``/readyz``.
- ``metrics.py``: ``/metrics``, through the Prometheus client's own exposition.
- ``feeds.py``: ``/feeds/<watch>.atom``, built with feedgen.
- ``pages.py``: ``/`` and ``/watch/<watch>``, rendered with Jinja2 (``templates/status.html.j2``).
"""
