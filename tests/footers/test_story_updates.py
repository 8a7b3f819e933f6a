"""A story's updates are not boilerplate: wire services send a story again as it develops, its
lede and closing line repeated with new figures, its middle new. Learning must keep them while
it still learns the site's footer lines. Each batch runs through the footer stage the way the
pipeline runs it: per text its candidate and learnable keys, the batch counted, the stored
counts merged, each text stripped with the counts of its own lines, then the batch's counts
stored."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ingest.footers import rules as R
from ingest.footers.strip import (
    FooterRules,
    candidate_keys,
    count_candidates,
    key_applies,
    learnable_keys,
    line_key,
    merge_counts,
    strip_footers,
)
from ingest.models import Cleaned

SITE = "ansa.it"
RULES = FooterRules(min_count=3)
NOTICE = "Riproduzione riservata © Copyright ANSA"
PROMO = "Segui ANSA su WhatsApp: ricevi le notizie più importanti"
PLACES = ("Vinadio", "Demonte", "Aisone", "Pietraporzio", "Sambuco", "Moiola", "Gaiola",
          "Roccasparvera", "Valloriate")


def run_site(batches: Sequence[Sequence[str]]) -> list[Cleaned]:
    """The texts of one site, batch after batch, through the footer stage as the pipeline
    runs it (ingest/pipeline/batch.py), with a dict for the store's footer counts."""
    stored: dict[str, int] = {}
    cleaned = []
    for texts in batches:
        keys = [(candidate_keys(text), learnable_keys([text])) for text in texts]
        batch = count_candidates(candidates for candidates, _ in keys)
        wanted = set().union(*(learnable for _, learnable in keys))
        counts = merge_counts({k: stored[k] for k in wanted if k in stored}, batch)
        for text, (_, learnable) in zip(texts, keys, strict=True):
            own = {k: counts[k] for k in learnable if k in counts}
            cleaned.append(strip_footers(text, learned=own, rules=RULES, site=SITE))
        for key, (n, _sample) in batch.items():
            stored[key] = stored.get(key, 0) + n
    return cleaned


def in_batches(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[i:i + size]) for i in range(0, len(texts), size)]


def earlier_stories(n: int = 3) -> list[str]:
    """Other stories of the site, before the updates: its promo and notice on each."""
    return ["\n".join([f"(ANSA) - TORINO, {i + 1} DIC -",
                       f"La giunta di {PLACES[-1 - i]} ha approvato il bilancio di previsione.",
                       f"Il consiglio di {PLACES[-1 - i]} lo discuterà la prossima settimana.",
                       PROMO, NOTICE]) for i in range(n)]


# -- six updates of one story: lede and closing line alike but for their figures --------------
def lede(n: int) -> str:
    return (f"Sale a {3 + n} il bilancio delle vittime della frana in Valle Stura, dove i dispersi "
            f"sono ancora {9 - n}.")


def closing(n: int) -> str:
    return f"Sono {140 + 35 * n} gli sfollati, ospitati nelle palestre di {2 + n} comuni della valle."


def update(n: int) -> str:
    place = PLACES[n]
    return "\n".join([
        "(ANSA) - CUNEO, 3 DIC -",
        lede(n),
        f"Nel pomeriggio i soccorritori hanno raggiunto la frazione di {place}, rimasta isolata "
        f"per ore dopo il crollo della strada provinciale.",
        f"Il sindaco di {place} ha chiesto al governo lo stato di emergenza per tutta la valle.",
        closing(n),
        PROMO,
        NOTICE,
    ])


UPDATES = [update(n) for n in range(6)]


def test_the_updates_share_short_ledes_and_closing_lines_but_for_figures() -> None:
    """What makes the case: the lede and closing line are short enough to be learned and
    differ only in their figures, so the cap alone does not keep them."""
    for line in (lede(0), closing(0)):
        assert len(line) <= R.LEARN_MAX_CHARS
    assert {lede(n).translate(str.maketrans("", "", "0123456789")) for n in range(6)} == {
        lede(0).translate(str.maketrans("", "", "0123456789"))}


@pytest.mark.parametrize("size", [1, 2, 6])
def test_every_update_keeps_its_lede_and_closing_line(size: int) -> None:
    cleaned = run_site([earlier_stories(), *in_batches(UPDATES, size)])
    for n, c in enumerate(cleaned[3:]):
        lines = c.text.split("\n")
        assert lede(n) in lines and closing(n) in lines, c.removed
        assert c.text == "\n".join(UPDATES[n].split("\n")[:-2])
        assert c.removed == (PROMO, NOTICE)  # the site's footer lines still go


@pytest.mark.parametrize("size", [1, 6])
def test_the_promo_of_the_updates_alone_is_learned_at_the_third(size: int) -> None:
    """With no earlier story, the updates teach the promo themselves: a batch counts itself."""
    cleaned = run_site(in_batches(UPDATES, size))
    learned_from = 0 if size == 6 else 2
    for n, c in enumerate(cleaned):
        assert lede(n) in c.text and closing(n) in c.text
        assert (PROMO not in c.text) == (n >= learned_from)
        assert NOTICE not in c.text


# -- the ANSA lede: 170 characters, three updates, one number apart ---------------------------
ANSA_LEDE = ("Sono saliti a {} i morti dell'esplosione nella fabbrica di fuochi d'artificio di "
             "Ercolano: lo ha reso noto la prefettura di Napoli, che ha aperto un centro "
             "di accoglienza.")


def ansa_update(dead: int, n: int) -> str:
    return "\n".join([ANSA_LEDE.format(dead), f"Tra i feriti, {PLACES[n]} segnala tre ustionati "
                      f"gravi trasferiti al Cardarelli nella notte.", NOTICE])


@pytest.mark.parametrize("size", [1, 3])
def test_ansa_lede_differing_in_one_number_is_kept(size: int) -> None:
    assert len(ANSA_LEDE.format(7)) == 170
    texts = [ansa_update(dead, n) for n, dead in enumerate((7, 8, 9))]
    for text, c in zip(texts, run_site(in_batches(texts, size)), strict=True):
        assert c.text.split("\n")[0] == text.split("\n")[0]
        assert c.removed == (NOTICE,)


def test_a_line_longer_than_the_cap_is_never_learned() -> None:
    """A lede the updates repeat word for word, their middles new: over the cap, it stays."""
    texts = [ansa_update(7, n) for n in range(4)]
    for c in run_site([texts]):
        assert c.text.startswith(ANSA_LEDE.format(7))
    promo = "Segui ANSA " + "x" * (R.LEARN_MAX_CHARS - len("Segui ANSA "))
    for line, learned in ((promo, True), (promo + "x", False)):
        texts = ["\n".join([f"La giunta di {p} ha approvato il bilancio.", line, NOTICE])
                 for p in PLACES[:3]]
        assert all((line not in c.text) == learned for c in run_site([texts]))


# -- keys: which recurrences count as one line -------------------------------------------------
@pytest.mark.parametrize("lines", [
    ("Aggiornato il 3 dicembre 2025 alle 10:44", "Aggiornato il 14 gennaio 2026 alle 9:05"),
    ("Stand: 03.12.2025, 10:44 Uhr", "Stand: 14.01.2026, 09:05 Uhr"),
    ("Publié le 1er décembre 2025 à 10h44", "Publié le 14 janvier 2026 à 9h05"),
    ("Updated Dec. 3, 2025", "Updated Jan 14, 2026"),
    ("2025年12月3日 10時44分", "2026年1月14日 9時05分"),
    ("Copyright © Agenzia Esempio 2017-2025", "Copyright © Agenzia Esempio 2017-2026"),
    ("Chiama il numero verde 800 123 456", "Chiama il numero verde 800 123 456"),
])
def test_lines_differing_only_in_dates_times_or_years_count_as_one(lines) -> None:
    assert line_key(lines[0]) == line_key(lines[1])


@pytest.mark.parametrize("lines", [
    (lede(0), lede(1)),
    (closing(0), closing(1)),
    ("Il vous reste 57% de cet article à lire.", "Il vous reste 62% de cet article à lire."),
    ("La Juve batte il Napoli 2-1", "La Juve batte il Napoli 3-1"),
    ("Borsa: Milano chiude in rialzo dello 0,8%", "Borsa: Milano chiude in rialzo dello 1,2%"),
])
def test_lines_differing_in_other_figures_count_apart(lines) -> None:
    assert line_key(lines[0]) != line_key(lines[1])


def test_key_applies_only_to_counts_the_stage_can_still_read() -> None:
    """A count under an older key (figures folded) or of a line over the cap is never read
    again: `ingest footers` must not list its line as removed."""
    stored = {line_key(PROMO): PROMO, line_key(lede(0)): lede(0),
              "sale a # il bilancio delle vittime della frana in valle stura, dove i dispersi "
              "sono ancora #": lede(0), line_key(ANSA_LEDE.format(7)): ANSA_LEDE.format(7)}
    assert [key_applies(k, sample) for k, sample in stored.items()] == [True, True, False, False]
