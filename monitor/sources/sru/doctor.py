"""``doctor`` for the SRU search: one record of the watched dossiers, and a record count."""

from __future__ import annotations

from ...doctor import Doctor, http_step
from ...http import Fetcher, SourceError
from .. import config_of
from .config import NAME, SruConfig
from .query import build_query
from .search import parse_response


def check(doc: Doctor, fetcher: Fetcher) -> None:
    cfg = config_of(doc.settings.sources, NAME, SruConfig)
    item = NAME
    dossiers = sorted({d for w in doc.settings.watches for d in w.dossiers})
    query = build_query(dossiers, None, max_dossier_clauses=cfg.max_dossier_clauses)
    doc.endpoint(item, cfg.base_url)
    params: dict[str, str | int] = {
        "operation": "searchRetrieve", "version": "2.0", "startRecord": 1, "maximumRecords": 1, "query": query,
    }  # fmt: skip
    # expect_xml=False: an HTML page or other junk is a shape problem, judged by the parser below.
    result = http_step(doc, item, lambda: fetcher.get(item, cfg.base_url, params, expect_xml=False))
    try:
        page = parse_response(result.content, item)
    except SourceError as exc:
        raise doc.fail(f"{item} answer", exc.problem) from None
    what = ", ".join(str(d) for d in dossiers) if dossiers else "any dossier (keyword watches only)"
    if page.number_of_records is None:
        raise doc.fail(f"{item} answer", "an SRU response without numberOfRecords")
    if page.number_of_records == 0 and dossiers:
        doc.say(
            "warning", f"{item} answer", f"SRU response, but 0 publications for dossier(s) {what}; check the numbers"
        )
        return
    doc.say("ok", f"{item} answer", f"SRU response, {page.number_of_records:,} publications for dossier(s) {what}")
