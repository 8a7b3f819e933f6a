"""Author names as a reader expects them: people, without a byline's furniture.

Bylines reach us with what surrounds them on the page or in the feed: "By"/"Di"/"Von"
before the name, a separator and a date or time after it ("ANSA · 2025-12-07"), an
e-mail address (RSS's ``ed@x.it (Ed Smith)``), the same name twice in other cases, and
the outlet's own brand or a wire agency where no person signed. `clean_authors` takes
the furniture off and leaves out what is not a person; it never makes up a name, and a
name it cannot clean is dropped rather than guessed at.

Every name is cut to ``_MAX_NAME`` characters before any pattern reads it, and the
patterns have no nested repeats: work is linear in a short string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import islice

from ingest.urls import site_of

_MAX_NAME = 200  # characters: a longer "name" is a paragraph, cut before any pattern reads it
_MAX_NAMES = 64  # names read from one page or entry (the extractor keeps 32)

# Words that introduce a byline. "di", "da", "de" and "von" also start surnames (Di Maio,
# Da Silva, von Trier): they are taken off only before two or more words, or in lower case.
_BY_WORDS = frozenset({"by", "par", "por", "door", "av", "af", "od", "autor", "autore",
                       "autora", "auteur", "author", "authors", "text", "texto", "testo"})
_PARTICLES = frozenset({"di", "da", "de", "von"})
_NAME_PARTICLES = frozenset({"der", "den", "la", "le", "las", "los", "del", "della", "dos", "das",
                             "do", "van", "ten", "ter"})  # "von der Leyen", "de la Cruz"
_BY_PHRASES = ("written by", "posted by", "reported by", "a cura di", "publié par",
               "escrito por", "text von", "texto de", "texto y fotos")
# Labels before a colon: "Autor: X", "责任编辑：X".
_LABELS = frozenset({"by", "autor", "autore", "autora", "auteur", "author", "authors", "text",
                     "texto", "testo", "von", "di", "par", "por", "redakteur", "redaktion",
                     "作者", "记者", "编辑", "责任编辑", "文", "글", "기자"})
# Wire-agency marks (the footer stage's AGENCIES, as whole names): the source of a story,
# credited in `rights`, not its author.
AGENCIES = frozenset({
    "ansa", "adnkronos", "agi", "lapresse", "askanews", "italpress", "agenzianova", "ap",
    "theassociatedpress", "associatedpress", "thomsonreuters", "reuters", "afp",
    "agencefrancepresse", "dpa", "dpaafx", "deutschepresseagentur", "epd", "kna",
    "keystonesda", "keystoneats", "sda", "apa", "agenciaefe", "efe", "europapress",
    "agencialusa", "lusa", "anp", "belga", "pap", "ctk", "tasr", "mti", "ritzau", "ntb",
    "upi", "aap", "pti", "ians", "xinhua", "kyodo", "yonhap", "tass", "rianovosti",
    "anadolu", "anadoluajansi", "anadoluagency", "bernama", "antara", "jiji", "jijipress",
    "연합뉴스", "共同通信", "新华社",
})
# Not names: placeholders that templates print where the author goes.
_PLACEHOLDERS = frozenset({"admin", "administrator", "noauthor", "unknown", "none", "null"})

_URL = re.compile(r"https?+:?+/*+|www\.", re.IGNORECASE)  # a link's start: "https://…", "www.x.it"
_EMAIL = re.compile(r"[\w.+-]{1,64}+@[\w-]{1,63}+(?:\.[\w-]{1,63}+)*+")
_SEPARATORS = " \t,;:|/·•‧∙–—-_*'\"“”‘’„«»()[]<>"
_DATE_OR_TIME = re.compile(r"\d{1,4}+(?:[./:t-]\d{1,4}+)*+(?:z|[.,])?+|\d{1,2}+(?:h|am|pm|uhr)",
                           re.IGNORECASE)
# Words that sit in a date or a time ("3 dicembre 2025, 09:12 Uhr"): taken off only with
# a number beside them, as "May" and "August" are surnames too.
_DATE_WORDS = frozenset("""
jan feb mar apr jun jul aug sep sept oct nov dec january february march april may june july
august september october november december gen mag giu lug ago set ott dic gennaio febbraio
marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre januar februar
märz mai juni juli oktober dezember janvier février mars avril juin juillet août septembre
octobre novembre décembre ene abr enero febrero abril mayo junio julio agosto septiembre
octubre noviembre diciembre janeiro fevereiro março maio junho julho setembro outubro
novembro dezembro am pm uhr h utc gmt cet cest et est edt pt on at um alle le el il à a de
del des du den der updated published aggiornato pubblicato actualizado publicado
aktualisiert veröffentlicht""".split())


def clean_authors(names: Iterable[str], *, site_name: str | None = None,
                  url: str | None = None) -> tuple[str, ...]:
    """The people among ``names``, each cleaned, once, in their order.

    A name equal to ``site_name`` or to the host's name in ``url`` (the outlet's brand), or
    to a wire agency, is left out; so is one with no letter left once cleaned.
    """
    brands = _brand_keys(site_name, url)
    kept: dict[str, str] = {}
    for raw in islice(names, _MAX_NAMES):
        name = clean_name(raw)
        key = _key(name).removeprefix("www")  # a host written out: "Www Example Com"
        if not key or key in brands or key in AGENCIES or key in _PLACEHOLDERS:
            continue
        kept.setdefault(name.casefold(), name)
    return tuple(kept.values())


def clean_name(raw: str) -> str:
    """One name without its byline words, e-mail address, trailing date or time and
    separators; "" when nothing that could be a name is left."""
    text = " ".join(str(raw)[:_MAX_NAME].split())
    text = _without_email(text)
    words = text.split()
    words = _without_lead(words)
    words = _without_trailing_date(words)
    name = " ".join(words).strip(_SEPARATORS)
    name = _unbracketed(name)
    return name if any(ch.isalpha() for ch in name) else ""


def _without_email(text: str) -> str:
    """``ed@x.it (Ed Smith)`` → ``Ed Smith``; ``Ed Smith <ed@x.it>`` → ``Ed Smith``."""
    if "@" not in text:
        return text
    text = _EMAIL.sub(" ", text)
    for empty in ("()", "<>", "[]"):
        text = text.replace(empty, " ")
    return " ".join(text.split())


def _without_lead(words: list[str]) -> list[str]:
    """Byline words and labels at the front: "By", "Di", "Autor:", "责任编辑：", "Written by"."""
    for _ in range(3):  # "Text: Von Hans Meier" has two
        if not words:
            break
        first = words[0]
        label, colon, rest = first.replace("：", ":").partition(":")
        if colon and label.casefold() in _LABELS:
            words = ([rest] if rest else []) + words[1:]
            continue
        phrase = next((p for p in _BY_PHRASES if _starts_with(words, p)), None)
        if phrase:
            words = words[len(phrase.split()):]
        elif first.casefold().rstrip(":") in _BY_WORDS:
            words = words[1:]
        elif (first.casefold() in _PARTICLES and len(words) > 1
              and (first.islower() or len(words) > 2)
              and words[1].casefold() not in _NAME_PARTICLES):
            words = words[1:]
        else:
            break
    return words


def _starts_with(words: list[str], phrase: str) -> bool:
    wanted = phrase.split()
    return [w.casefold().rstrip(":") for w in words[:len(wanted)]] == wanted


def _without_trailing_date(words: list[str]) -> list[str]:
    """Dates, times, links and separators at the end: "ANSA · 2025-12-07", "Rossi, 3 dic
    2025 09:12", "Taverncast: www.taverncast.com"."""
    end, numbers = len(words), 0
    while end > 0:
        word = words[end - 1].strip(_SEPARATORS)
        if _DATE_OR_TIME.fullmatch(word) or _URL.match(word):
            numbers += 1
        elif word and word.casefold().rstrip(".,") not in _DATE_WORDS:
            break
        end -= 1
    if numbers == 0:  # only words that could be a surname ("Tom May"): nothing taken
        return _without_trailing_separators(words)
    return words[:end]


def _without_trailing_separators(words: list[str]) -> list[str]:
    while words and not words[-1].strip(_SEPARATORS):
        words = words[:-1]
    return words


def _unbracketed(name: str) -> str:
    """A name left alone in brackets by the e-mail's removal: "(Ed Smith)" → "Ed Smith"."""
    if name[:1] in "([" and name[-1:] in ")]":
        return name[1:-1].strip(_SEPARATORS)
    return name


def _key(name: str) -> str:
    """Letters and digits only, case and accents folded: "Habertürk" matches "haberturk"."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def _brand_keys(site_name: str | None, url: str | None) -> frozenset[str]:
    """The outlet's names: its site name (with and without a ".fr"-like ending) and its host
    (with and without "www." and the ending): "Le Monde.fr", www.lemonde.fr → "lemonde"."""
    keys = set()
    host = site_of(url) if isinstance(url, str) else ""
    for name in (site_name or "")[:_MAX_NAME], host:
        name = name.strip().casefold().removeprefix("www.")
        stem, dot, ending = name.rpartition(".")
        keys.add(_key(name))
        if dot and 2 <= len(ending) <= 6 and ending.isalpha():
            keys.add(_key(stem))
            labels = [label for label in stem.split(".") if label not in _SECOND_LEVEL]
            if labels:  # edition.cnn.com, bbc.co.uk: the outlet's own label
                keys.add(_key(labels[-1]))
    keys.discard("")
    return frozenset(keys)


_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or"})
