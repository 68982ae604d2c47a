"""The CQL queries for officiële bekendmakingen: a group of dossiers, modified since a day.

The query language's rules that matter here are in docs/sources.md §2; this module only
spells the queries, always the same way for the same dossiers (the service caches its
paging per query string, and a conditional request needs the same URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ...models import DossierRef


def build_query(dossiers: Sequence[DossierRef], since: date | None, *, max_dossier_clauses: int = 25) -> str:
    """The CQL for Kamerstukken in ``dossiers`` modified on or after ``since``, newest first.

    ``w.publicatienaam==Kamerstuk`` is used rather than ``dt.type==Kamerstuk``: the
    latter excludes the ``blg-…`` Bijlage records, which are needed to attach a
    letter's enclosures, while publicatienaam covers both.  Callers must
    therefore look at ``SruRecord.doc_type`` to tell letters from bijlagen.

    With no dossiers, or more than ``max_dossier_clauses``, the dossier clause is left
    out and the caller filters locally: one query then serves any number of dossiers,
    instead of an ever longer OR-chain (and a URL) that the service may refuse.  Such a
    query should carry ``since``, or it asks for every Kamerstuk ever published.
    """
    clauses = ["c.product-area==officielepublicaties", "w.publicatienaam==Kamerstuk"]
    dossier_clause = _dossier_clause(dossiers, max_dossier_clauses)
    if dossier_clause:
        clauses.append(dossier_clause)
    if since is not None:
        # Day granularity only; callers overlap the window and de-duplicate.
        clauses.append(f"dt.modified>={since.isoformat()}")
    return " AND ".join(clauses) + " sortBy dt.modified/sort.descending"


def window_queries(dossiers: Sequence[DossierRef], since: date | None, *, max_dossier_clauses: int = 25) -> list[str]:
    """The queries that together ask for every Kamerstuk of ``dossiers`` modified since ``since``.

    The dossiers, sorted, are split into groups of at most ``max_dossier_clauses``:
    ⌈N / max_dossier_clauses⌉ queries, each with its own dossier clause, so that no answer
    holds other dossiers' publications.  The same watch list always gives the same
    queries (the service caches paging, and a conditional request needs the same URL).
    With no dossiers, or ``max_dossier_clauses = 0``, one query without a dossier clause.
    """
    unique = sorted(set(dossiers))
    if not unique or max_dossier_clauses <= 0:
        return [build_query([], since)]
    step = max_dossier_clauses
    return [build_query(unique[i : i + step], since, max_dossier_clauses=step) for i in range(0, len(unique), step)]


def _dossier_clause(dossiers: Sequence[DossierRef], limit: int) -> str | None:
    # Sorted and de-duplicated so the same watch list always gives the same query
    # string; the service caches its paging cursor per query.
    unique = sorted(set(dossiers))
    if not unique or len(unique) > limit:
        return None
    terms = [f"w.dossiernummer=={d}" for d in unique]
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
