"""Realistic, deterministic test data: dossiers, zaken and documents for the local SyncFeed.

The mix follows what the Tweede Kamer Document feed carries: letters from the government,
motions, attachments that point at their letter (``bronDocument``), written questions and
answers, reports and agendas; Dutch titles with diacritics; a share of the documents in
watched dossiers, some of them linked only through their Zaak (Volgnummer -1 and no
dossier link, as a new letter first appears).
"""

from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

# (soort, weight, is a Kamerstuk with a Volgnummer)
KINDS: tuple[tuple[str, int, bool], ...] = (
    ("Brief regering", 24, True),
    ("Motie", 18, True),
    ("Bijlage", 16, False),
    ("Amendement", 5, True),
    ("Verslag van een schriftelijk overleg", 4, True),
    ("Brief commissie", 4, True),
    ("Schriftelijke vragen", 8, False),
    ("Antwoord schriftelijke vragen", 7, False),
    ("Nota naar aanleiding van het verslag", 3, True),
    ("Verslag van een commissiedebat", 4, True),
    ("Agenda", 4, False),
    ("Lijst met feitelijke vragen", 3, True),
)
_KIND_NAMES = [k for k, _, _ in KINDS]
_KIND_WEIGHTS = [w for _, w, _ in KINDS]
_KAMERSTUK = {k for k, _, numbered in KINDS if numbered}

_TOPICS = (
    "de coördinatie van het cyberbeveiligingsbeleid",
    "de financiële positie van gemeenten",
    "één loket voor ondernemers",
    "de reïntegratie van langdurig zieken",
    "privé-gebruik van de auto van de zaak",
    "de situatie op Curaçao en Aruba",
    "de geëvalueerde Wet open overheid",
    "de naïeve aannames in het CPB-rapport",
    "de verduurzaming van de gebouwde omgeving",
    "stikstofdepositie rond Natura 2000-gebieden",
    "de AI-fabriek in Groningen",
    "versterking van de Groningse woningen",
    "de Europese Raad van 26 en 27 juni",
    "het ICT-landschap van de Belastingdienst",
    "de zorgverzekering en het eigen risico",
    "het café- en horecabeleid in de binnensteden",
    "de crèches en de kinderopvangtoeslag",
    "de rechtspositie van militairen",
    "de voortgang van de energietransitie",
    "de beëindiging van de gaswinning",
    "ruimtelijke ordening in de Randstad",
    "de uitvoering van de Participatiewet",
    "het onderwijs in het Fries",
    "de coöperatieve samenwerking in de landbouw",
    "desinformatie en de weerbaarheid van de democratie",
)
_MEMBERS = (
    "Van der Plas",
    "Omtzigt",
    "Agema",
    "Kröger",
    "Bontenbal",
    "Dijk",
    "Bikker",
    "Holman",
    "Teunissen",
    "Ceder",
    "Van Baarle",
    "Kathmann",
    "El Abassi",
    "Eerdmans",
    "Tielen",
    "Vijlbrief",
    "Stoffer",
    "Öztürk",
)
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Brief regering": (
        "Kabinetsreactie op het advies over {t}",
        "Voortgangsbrief over {t}",
        "Beantwoording van vragen over {t}",
        "Stand van zaken rond {t}",
        "Reactie op het verzoek van de commissie over {t}",
    ),
    "Motie": ("Motie van het lid {m} over {t}", "Motie van de leden {m} en {m2} over {t}"),
    "Bijlage": ("Rapport over {t}", "Onderzoeksrapport: {t}", "Bijlage bij de brief over {t}"),
    "Amendement": ("Amendement van het lid {m} ter vervanging van nr. {n} over {t}",),
    "Schriftelijke vragen": ("Vragen van het lid {m} over {t}",),
    "Antwoord schriftelijke vragen": ("Antwoord op vragen van het lid {m} over {t}",),
    "Agenda": ("Agenda commissiedebat over {t}",),
}


@dataclass(frozen=True, slots=True)
class Dossier:
    guid: str
    nummer: int
    toevoeging: str | None
    titel: str

    @property
    def ref(self) -> str:
        return f"{self.nummer}-{self.toevoeging}" if self.toevoeging else str(self.nummer)


@dataclass
class World:
    """What the bench publishes: watched and other dossiers, and a random source."""

    rng: random.Random
    watched: list[Dossier]
    other: list[Dossier]
    docnr: int = 10_000
    volgnummers: dict[str, int] = field(default_factory=dict)

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_docnr(self) -> str:
        self.docnr += 1
        return f"2025D{self.docnr:05d}"

    def volgnummer(self, dossier: Dossier) -> int:
        self.volgnummers[dossier.guid] = self.volgnummers.get(dossier.guid, 1000) + 1
        return self.volgnummers[dossier.guid]

    def title(self, kind: str) -> str:
        templates = _TEMPLATES.get(kind, ("{k} over {t}",))
        m, m2 = self.rng.sample(_MEMBERS, 2)
        t = self.rng.choice(_TOPICS)
        return self.rng.choice(templates).format(t=t, m=m, m2=m2, n=self.rng.randint(8, 40), k=kind)


def make_world(watched: int, other: int = 500, seed: int = 20250627) -> World:
    """``watched`` dossiers to watch (every 50th with a toevoeging, like 36600-VII) and ``other`` ones."""
    rng = random.Random(seed)
    roman = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XII", "XIII", "XV", "XVI")

    def dossier(i: int, base: int, begroting: int) -> Dossier:
        guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        topic = rng.choice(_TOPICS)
        if i % 50 == 49:  # begrotingshoofdstukken: 36600-VII
            return Dossier(guid, begroting + (i // 50) * 10, roman[(i // 50) % len(roman)], f"Begroting: {topic}")
        return Dossier(guid, base + i, None, topic[0].upper() + topic[1:])

    return World(
        rng, [dossier(i, 21000, 36000) for i in range(watched)], [dossier(i, 40000, 37000) for i in range(other)]
    )


def watches_for(world: World, *, one_watch: bool = False, channels: list[str] | None = None) -> list[dict[str, object]]:
    """Watch configuration as TOML would give it: one watch per dossier, or one for all."""
    chans = {"channels": channels} if channels else {}
    if one_watch:
        return [{"name": "all", "dossiers": [d.ref for d in world.watched], **chans}]
    return [{"name": f"w{i:04d}", "dossiers": [d.ref], **chans} for i, d in enumerate(world.watched)]


def publish_dossiers(tk: TkFeedServer, world: World) -> None:
    for d in world.watched + world.other:
        tk.add_dossier(d.guid, d.nummer, d.titel, d.toevoeging)


@dataclass(slots=True)
class BacklogStats:
    documents: int = 0
    zaken: int = 0
    watched_docs: int = 0
    via_zaak_only: int = 0


def publish_backlog(
    tk: TkFeedServer, world: World, documents: int, *, today: date, watched_share: float = 0.3, days: int = 60
) -> BacklogStats:
    """Append ``documents`` Document entries (and their Zaken) to the feed, oldest first.

    About ``watched_share`` of the documents land in a watched dossier; a fifth of those
    carry no dossier link of their own and are known only through their Zaak.  Bijlagen
    follow their letter, pointing at it with ``bronDocument``.
    """
    rng, st = world.rng, BacklogStats()
    while st.documents < documents:
        kind = rng.choices(_KIND_NAMES, _KIND_WEIGHTS)[0]
        if kind == "Bijlage":
            kind = "Brief regering"  # a Bijlage comes with its letter, below
        watched = rng.random() < watched_share
        dossier = rng.choice(world.watched if watched else world.other) if kind in _KAMERSTUK or watched else None
        day = today - timedelta(days=int(rng.random() ** 2 * days))
        zaak = world.guid()
        only_zaak = watched and rng.random() < 0.2
        tk.add_zaak(
            zaak, f"2025Z{rng.randint(10000, 99999)}", kind, world.title(kind), [dossier.guid] if dossier else []
        )
        st.zaken += 1
        links = [] if only_zaak or dossier is None else [dossier.guid]
        volg = world.volgnummer(dossier) if dossier and kind in _KAMERSTUK and not only_zaak else -1
        title = dossier.titel if dossier else "Overig"
        guid = world.guid()
        tk.add_document(
            guid, world.next_docnr(), kind, world.title(kind), title, day, "2024-2025", volg, links, [zaak]
        )  # fmt: skip
        st.documents += 1
        st.watched_docs += int(watched)
        st.via_zaak_only += int(only_zaak)
        for _ in range(rng.choice((0, 0, 1, 2)) if kind == "Brief regering" else 0):
            if st.documents >= documents:
                break
            tk.add_document(
                world.guid(), world.next_docnr(), "Bijlage", world.title("Bijlage"), title, day, "2024-2025", -1,
                links, [zaak], bron_document_guid=guid,
            )  # fmt: skip
            st.documents += 1
            st.watched_docs += int(watched)
            st.via_zaak_only += int(only_zaak)
    return st


def publish_sru_background(sru: SruServer, world: World, *, today: date, per_day: int, days: int) -> int:
    """Kamerstuk publications of other dossiers modified in the last ``days`` days.

    Officiële bekendmakingen keeps modifying records after publication, so a query by
    modification date always returns the last days' Kamerstukken, new to us or not.
    """
    rng, n = world.rng, 0
    for back in range(days):
        day = today - timedelta(days=back)
        for _ in range(per_day):
            d = rng.choice(world.other)
            n += 1
            sru.add_record(
                f"kst-{d.ref}-{n}", dossier=d.ref, ondernummer=str(n), document_title=world.title("Brief regering"),
                dossier_title=d.titel, date=day - timedelta(days=rng.randint(0, 20)), modified=day,
            )  # fmt: skip
    return n


_BODY = (
    "Hierbij informeer ik uw Kamer, mede namens de minister van Economische Zaken, over de voortgang van "
    "de coördinatie van het beleid. In de brief van 13 mei jl. heb ik toegezegd u vóór de zomer te "
    "informeren over de financiële gevolgen en de uitvoering door gemeenten en provincies.",
    "De reïntegratie van de betrokken uitvoeringsorganisaties is geëvalueerd. Uit de evaluatie blijkt dat "
    "één loket voor burgers en ondernemers de doorlooptijd verkort; tegelijk vraagt de naïeve aanname dat "
    "dit zonder extra middelen kan om een nadere analyse, die ik u in het najaar doe toekomen.",
    "Ik heb het Centraal Planbureau gevraagd de doorrekening te actualiseren. De resultaten deel ik met uw "
    "Kamer zodra zij beschikbaar zijn, uiterlijk bij de begroting voor het volgende jaar.",
)


@functools.cache
def letter_pdf() -> tuple[bytes, str]:
    """A two-page Kamerbrief as a PDF (letter layout: Datum, Betreft, salutation, body, signature).

    Returns the fake's default stub when ``fpdf2`` (a test dependency) is missing.
    """
    try:
        from fpdf import FPDF
    except ImportError:  # pragma: no cover - fpdf2 is in the test extras
        return b"%PDF-1.4\n%fake\n", "application/pdf"
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(True, margin=25)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for line in ("De Voorzitter van de Tweede Kamer", "der Staten-Generaal", "Postbus 20018", "2500 EA  DEN HAAG"):
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(0, 5, "Datum       27 juni 2025", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, "Betreft     Voortgang van de coördinatie van het beleid", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(0, 5, "Geachte Voorzitter,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    for _ in range(4):  # about two pages
        for paragraph in _BODY:
            pdf.multi_cell(0, 5, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(5)
    for line in ("De minister van Binnenlandse Zaken en", "Koninkrijksrelaties,", "", "", "J.A. de Vries"):
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output()), "application/pdf"
