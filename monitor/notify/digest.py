"""Digests: how many letters a medium shows per dossier and in all, and what it says of the rest.

Shared by the e-mail, Slack and console renderings; each chooses its own numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .view import GroupView

EMAIL_DIGEST_LETTERS = 200  # in all, over every dossier
DIGEST_PER_DOSSIER = 10  # then "… en N meer in dossier 26643" with a link to the dossier page
DIGEST_REST_DOSSIERS = 50  # dossiers listed (with a link) after the letters run out


def limit_groups(groups: Sequence[GroupView], per_group: int, total: int) -> tuple[list[GroupView], list[GroupView]]:
    """(groups shown, groups left out): at most ``per_group`` letters per dossier, ``total`` in all.

    A shown group's ``more`` counts its letters left out; a left-out group has no
    letters and ``more`` counts them all.
    """
    shown: list[GroupView] = []
    rest: list[GroupView] = []
    left = total
    for group in groups:
        take = min(per_group, left, len(group.letters))
        if take <= 0:
            rest.append(dataclasses.replace(group, letters=(), more=len(group.letters)))
            continue
        shown.append(dataclasses.replace(group, letters=group.letters[:take], more=len(group.letters) - take))
        left -= take
    return shown, rest


def name_the_rest(
    groups: Sequence[GroupView], shown: Sequence[GroupView], rest: Sequence[GroupView], budget: int
) -> tuple[list[GroupView], list[GroupView]]:
    """After :func:`limit_groups`: name the letters left out, in compact lines, up to ``budget``.

    A dossier left without any card joins the shown groups when a line for it fits; what
    still does not fit stays counted in ``more`` (and in ``rest`` for whole dossiers).
    """
    full = {g.key: g for g in groups}
    named: list[GroupView] = []
    unnamed: list[GroupView] = []
    for group in [*shown, *rest]:
        extra = full[group.key].letters[len(group.letters) :]
        take = extra[: max(budget, 0)]
        budget -= len(take)
        updated = dataclasses.replace(group, named=take, more=len(extra) - len(take))
        (named if updated.letters or updated.named else unnamed).append(updated)
    return named, unnamed


def rest_line(rest: Sequence[GroupView], show: Callable[[GroupView], str]) -> str:
    """``… en 12 meer in 3 andere dossiers: …`` for the dossiers a digest left out entirely."""
    n = sum(g.more for g in rest)
    where = "1 ander dossier" if len(rest) == 1 else f"{len(rest)} andere dossiers"
    listed = ", ".join(show(g) for g in rest[:DIGEST_REST_DOSSIERS])
    extra = f", en nog {len(rest) - DIGEST_REST_DOSSIERS}" if len(rest) > DIGEST_REST_DOSSIERS else ""
    return f"  … en {n} meer in {where}: {listed}{extra}"
