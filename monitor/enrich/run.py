"""Enrich letters just before they are alerted: sender, summary, signatories — once per version.

The official HTML publication is read when it exists, else the Tweede Kamer's own file
(PDF or DOCX).  The result is stored with the version it was made from (the publication
URL, or the file URL and its announced length), so each version is read once.  It never
holds an alert back for long: after ``timeout_seconds`` from when the alert was queued,
the alert goes out with what is known, and a later message about the letter (a
follow-up) carries the details once they are there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..context import Context
from ..http import SourceError
from ..models import LetterDetails
from ..store import letters as letter_store
from ..store import ops
from .errors import EnrichError

logger = logging.getLogger(__name__)


def _version(state: letter_store.DetailsState) -> str | None:
    if state.ob_html_source:
        return f"ob:{state.ob_html_source}"
    if state.tk_file_url:
        return f"tk:{state.tk_file_url}|{state.content_length or ''}"
    return None


# A TK file that is not there (yet) answers HTTP 500 at Resources/<id>, not 404 (docs/sources.md §1).
# It is asked again after these pauses (seconds), never past the alert's deadline; then the
# alert goes out without details, that file version is not asked for again, and ``status``
# shows it.  A later version of the document (a new file) is read afresh.
MISSING_FILE_PAUSES: tuple[float, ...] = (2.0, 5.0)
_MISSING = "missing: "


def _missing_key(letter_id: int) -> str:
    return f"tk-file-missing:{letter_id}"


def enrich(
    ctx: Context, letter_ids: Iterable[int], queued_at: datetime, tried: set[tuple[int, str]] | None = None
) -> None:
    """Read and store details for the letters whose current version has none yet.

    ``tried`` holds the (letter, version) pairs already attempted in this drain: a letter
    going to three channels is read (and its failure logged) once, not three times.
    """
    cfg = ctx.settings.enrichment
    if not cfg.enabled:
        return
    deadline = queued_at + timedelta(seconds=cfg.timeout_seconds)
    with ctx.engine.connect() as conn:
        states = letter_store.details_states(conn, letter_ids)
    for state in states:
        version = _version(state)
        if version is None or version == state.details_key:
            continue
        if tried is not None:
            if (state.letter_id, version) in tried:
                continue  # failed a moment ago for another channel: the next drain tries again
            tried.add((state.letter_id, version))
        if ctx.now() >= deadline:
            logger.info("enrichment of letter %d skipped: the alert has waited long enough", state.letter_id)
            return
        started = time.monotonic()
        details, error = _read(ctx, state, deadline)
        with ctx.engine.begin() as conn:
            if details is not None or error is None:
                letter_store.save_details(conn, state.letter_id, version, details.to_json() if details else None, None)
                ops.condition_off(conn, _missing_key(state.letter_id))
            elif error.startswith(_MISSING):
                # Given up for this version: recorded, shown by ``status``, never retried endlessly.
                letter_store.save_details(conn, state.letter_id, version, None, error)
                ops.condition_on(
                    conn, _missing_key(state.letter_id), ctx.now(),
                    f"letter {state.letter_id}: {error.removeprefix(_MISSING)}; alerted without its details",
                )  # fmt: skip
            elif not error.startswith("transient:"):
                letter_store.save_details(conn, state.letter_id, version, None, error)
        logger.debug("enriched letter %d in %.2fs: %s", state.letter_id, time.monotonic() - started, error or "ok")


def _read(
    ctx: Context, state: letter_store.DetailsState, deadline: datetime
) -> tuple[LetterDetails | None, str | None]:
    # Imported here: BeautifulSoup and pypdf load only when a letter is actually read.
    from .fetch import enrich_from_publication

    try:
        if state.ob_html_source:
            return enrich_from_publication(
                ctx.fetcher, state.ob_html_source, ctx.settings.enrichment.allowed_urls
            ), None
        return _read_tk_file(ctx, state, deadline)
    except EnrichError as exc:  # the file is unusable: remember, do not retry this version
        logger.warning("enrichment of letter %d: %s", state.letter_id, exc)
        return None, str(exc)
    except SourceError as exc:  # the source had a bad moment: a later attempt may work
        logger.warning("enrichment of letter %d: %s", state.letter_id, exc)
        return None, f"transient: {exc}"


def _read_tk_file(
    ctx: Context, state: letter_store.DetailsState, deadline: datetime
) -> tuple[LetterDetails | None, str | None]:
    """The TK file, asked again a bounded number of times while it answers HTTP 500 ("not there yet")."""
    from .fetch import enrich_from_tk_file

    assert state.tk_file_url is not None
    allowed = ctx.settings.enrichment.allowed_urls
    started = time.monotonic()
    attempts = 0
    for pause in (0.0, *MISSING_FILE_PAUSES):
        if pause:
            if ctx.now() + timedelta(seconds=pause) >= deadline:
                break  # the alert has waited long enough
            time.sleep(pause)
        attempts += 1
        try:
            details = enrich_from_tk_file(
                ctx.fetcher, state.tk_file_url, state.content_type, state.content_length, allowed
            )
            return details, None
        except SourceError as exc:
            if not exc.problem.startswith("HTTP 500 "):
                raise
            logger.info("letter %d: Tweede Kamer file not there yet (attempt %d): %s", state.letter_id, attempts, exc)
    waited = time.monotonic() - started
    return None, f"{_MISSING}Tweede Kamer file not there (HTTP 500 on {attempts} attempts over {waited:.0f} s)"
