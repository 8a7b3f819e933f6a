"""The footer stage: built-in rules per language and agency, traps, learning, repeats,
site patterns and rights. Golden files are in test_footers_golden.py."""

from __future__ import annotations

import time

import pytest

from ingest.errors import ConfigError
from ingest.footers.strip import (
    FooterRules,
    candidate_keys,
    count_batch,
    count_candidates,
    line_key,
    merge_counts,
    strip_footers,
)
from ingest.site_patterns import compile_site_pattern

BODY = [
    "(ANSA) - ROMA, 3 DIC -",
    "Il governo ha approvato oggi il decreto sulle infrastrutture, che stanzia nuove risorse "
    "per la manutenzione di ponti e gallerie nelle regioni del Centro e del Sud.",
    "Secondo il ministro, il provvedimento entrerà in vigore entro la fine del mese e prevede "
    "controlli annuali affidati a enti indipendenti.",
]
RULES = FooterRules()
WORDS = ("Milano Torino Napoli Bari Genova Firenze Bologna Venezia Palermo Catania Verona Padova "
         "Trieste Brescia Parma Modena Perugia Cagliari Livorno Ravenna Rimini Salerno Ferrara "
         "Sassari Latina Monza Pescara Bergamo Trento Vicenza").split()


def story(n: int) -> list[str]:
    """Body lines of a distinct article (no digits, so keys never collide)."""
    city = WORDS[n]
    return [f"A {city} il consiglio comunale ha approvato il piano per il centro storico, "
            f"con nuovi fondi per le scuole e per il trasporto pubblico.",
            f"Il sindaco di {city} ha detto che i lavori partiranno in primavera.",
            f"Le opposizioni di {city} hanno chiesto un voto in aula."]


def strip(text: str, learned=None, rules: FooterRules = RULES, site: str = "example.com",
          feed_rights: str | None = None):
    return strip_footers(text, learned=learned or {}, rules=rules, site=site,
                         feed_rights=feed_rights)


NOTICES = {  # id: a footer line; each must be stripped from the end of BODY
    "it-riproduzione": "Riproduzione riservata",
    "it-tutti": "Tutti i diritti riservati.",
    "it-entity": "&copy;RIPRODUZIONE RISERVATA",
    "it-nbsp": "Riproduzione\u00a0riservata\u00a0©\u00a0Copyright\u00a0ANSA",
    "en-all": "All rights reserved",
    "en-upper": "ALL RIGHTS RESERVED.",
    "de-alle": "Alle Rechte vorbehalten.",
    "de-copyright": "Copyright (c) 2024 Beispiel Medien GmbH. Alle Rechte vorbehalten.",
    "fr-tous": "Tous droits réservés",
    "fr-noaccent": "TOUS DROITS RESERVES",
    "es-todos": "Todos los derechos reservados.",
    "es-year": "2022 - Todos los derechos reservados.",
    "pt-todos": "Todos os direitos reservados",
    "nl-alle": "Alle rechten voorbehouden.",
    "pl-prawa": "Materiał chroniony prawem autorskim - zasady przedruków określa regulamin.",
    "ru-prava": "© 2025 РИА. Все права защищены.",
    "ansa-seed": "Riproduzione riservata © Copyright ANSA",
    "ansa-ref": "(ANSA). RIPRODUZIONE RISERVATA © Copyright ANSA",
    "ansa-c": "(c) ANSA",
    "adnkronos": "RIPRODUZIONE RISERVATA © Copyright Adnkronos",
    "agi": "© Riproduzione riservata - AGI",
    "agi-copyright": "Copyright AGI 2025",
    "lapresse": "© Copyright LaPresse 2025 - Riproduzione riservata",
    "ap": "Copyright 2025 The Associated Press. All rights reserved.",
    "ap-long": "Copyright 2025 The Associated Press. All rights reserved. This material may not "
               "be published, broadcast, rewritten or redistributed.",
    "ap-symbol": "©2015 The Associated Press.",
    "reuters": "© 2024 Reuters",
    "reuters-upper": "(C) REUTERS 2025. ALL RIGHTS RESERVED.",
    "afp": "© Agence France-Presse",
    "afp-licence": "Copyright © AFP 2017-2026. Für die kommerzielle Nutzung dieses Inhalts ist "
                   "ein Abonnement erforderlich. Klicken Sie hier für weitere Informationen.",
    "dpa-afx": "ALL RIGHTS RESERVED © 2025 dpa-AFX",
    "dpa-infocom": "© dpa-infocom, dpa:251203-930-415869/1",
    "efe": "(c) Agencia EFE 2025. Todos los derechos reservados.",
    "efe-long": "© EFE 2025. Está expresamente prohibida la redistribución y la redifusión de "
                "todo o parte de los contenidos de los servicios de Efe, sin previo y expreso "
                "consentimiento de la Agencia EFE S.A.",
    "lusa": "© 2025 Lusa - Agência de Notícias de Portugal, S.A.",
    "anp": "Alle rechten voorbehouden. © ANP 2025",
    "anp-c": "(c) ANP",
    "publisher-at": "Copyright @ 2026 Media Group - mediaindonesia. All Rights Reserved",
    "publisher-tm": "™ & © 2013 Cable News Network, Inc., a Time Warner Company. "
                    "All rights reserved.",
    "publisher-tm-short": "™ & © 2016 Cable News Network, Inc., a Time Warner Company.",
    "publisher-indented": "                      Copyright © 2023 The Washington Times, LLC.",
    "reuters-disclaimer": "© 2025 Thomson Reuters. All rights reserved. Republication or "
                          "redistribution of Thomson Reuters content, including by framing or "
                          "similar means, is expressly prohibited without the prior written "
                          "consent of Thomson Reuters.",
    "pt-globo": "© 1996 - 2025 Todos os direitos reservados a Editora Globo S/A. Este material "
                "não pode ser publicado, transmitido por broadcast, reescrito ou redistribuído "
                "sem autorização.",
    "ko-yonhap": "<저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지>",
    "fr-diffusion": "Reproduction et diffusion interdites",
    "nl-auteursrecht": "Auteursrecht © 2025 ANP",
    "photo-credit": "Foto: © ANSA",
    "ja-kyodo": "Copyright © 2025 共同通信社 All Rights Reserved.",
    "ja-mudan": "本記事の無断転載を禁じます",
    "zh-glued": "新华网版权所有",
}
CREDITS = {
    "reuters-credit": "Reporting by Ann Saphir; Editing by Chizu Nomiyama",
    "reuters-credit-paren": "(Reporting by Angelo Amante in Rome; Writing by X; "
                            "Editing by Keith Weir)",
    "reuters-standards": "Our Standards: The Thomson Reuters Trust Principles.",
    "sda-signature": "SDA/sep",
    "pap-signature": "aja/PAP",
    "dpa-signature": "(dpa)",
    "afp-signature": "— AFP",
    "it-source": "Fonte: ANSA",
    "de-source": "Quelle: dpa, AFP",
    "cnn-wire": "The-CNN-Wire",
}


@pytest.mark.parametrize("line", NOTICES.values(), ids=NOTICES.keys())
def test_notice_is_stripped_and_is_the_rights(line: str) -> None:
    cleaned = strip("\n".join(BODY + [line]))
    assert cleaned.text == "\n".join(BODY)
    assert cleaned.removed == (line,)
    assert cleaned.rights == " ".join(line.replace("&copy;", "©").split())


def test_rights_phrases_match_as_whole_words_as_if_each_were_bounded_alone() -> None:
    """_PHRASE bounds its alternation once, for speed: the same matches as bounding each
    phrase by itself, in notices, inside longer words and next to each other."""
    import re

    from ingest.footers import lines as L
    from ingest.footers import rules as R

    each = re.compile("|".join(rf"(?<![{L._ALNUM}])(?:{L._unaccent(p)})(?![{L._ALNUM}])"
                               for ps in R.RIGHTS_PHRASES.values() for p in ps))
    lines = [L.fold(line) for line in [*NOTICES.values(), *CREDITS.values(), *BODY]]
    lines += [f"x{line}" for line in lines] + [f"{line}x" for line in lines]
    lines += [f"{a} {b}" for a, b in zip(lines, reversed(lines), strict=True)]
    for line in lines:
        assert L._PHRASE.sub("#", line) == each.sub("#", line), line
    assert L._PHRASE.search("tutti i diritti riservati")
    assert not L._PHRASE.search("diritti riservatissimi")
    assert not L._PHRASE.search("xall rights reserved")


@pytest.mark.parametrize("line", CREDITS.values(), ids=CREDITS.keys())
def test_credit_is_stripped_but_is_no_rights(line: str) -> None:
    cleaned = strip("\n".join(BODY + [line]), feed_rights="© Feed")
    assert (cleaned.text, cleaned.removed, cleaned.rights) == ("\n".join(BODY), (line,), "© Feed")


TRAPS = {  # last lines that are content and must stay
    "en-court": "The court found that an 'all rights reserved' notice did not stop newspapers "
                "from quoting the figures, lawyers said.",
    "en-copyright-law": "Copyright law in the EU was reformed in 2019.",
    "en-infringement": "Copyright infringement is a crime.",
    "en-list-item": "(c) the parties shall agree on the price.",
    "en-reuters-mention": "Reuters reported that the deal was done.",
    "it-quote": "Il giudice ha stabilito che la formula \"tutti i diritti riservati\" non basta "
                "a vietare la citazione di un breve estratto.",
    "de-mid": "Der Verlag betont, dass „Alle Rechte vorbehalten“ im Impressum nicht jede "
              "Übernahme von Zitaten verbietet.",
    "fr-mid": "Selon l'avocat, la mention « tous droits réservés » ne protège pas une simple "
              "information factuelle.",
    "es-mid": "El tribunal recordó que la frase «todos los derechos reservados» no impide "
              "citar datos públicos.",
    "long-narrative": "In a long final paragraph the reporter explains how copyright law treats "
                      "wire copy: agencies such as Reuters and the Associated Press print © and "
                      "'All rights reserved' under every story, yet courts in several countries "
                      "have held that short quotations remain lawful, a point the publishers' "
                      "association disputes and plans to raise with the European Commission "
                      "next year. All rights reserved.",
    "photo-caption-body": "Photo: AFP",
    "author": "André Schmidt",
    "source-sentence": "Fonte: ANSA e Reuters, che hanno diffuso la notizia per prime.",
    "ap-contributed": "The Associated Press contributed to this report.",
    "may-not": "The report may not be published until Monday, officials said.",
}


@pytest.mark.parametrize("line", TRAPS.values(), ids=TRAPS.keys())
def test_trap_last_line_is_kept(line: str) -> None:
    text = "\n".join(BODY + [line])
    cleaned = strip(text)
    assert (cleaned.text, cleaned.removed, cleaned.rights) == (text, (), None)


@pytest.mark.parametrize("line", list(TRAPS.values())[:9], ids=list(TRAPS)[:9])
def test_trap_mid_body_is_kept_while_footer_goes(line: str) -> None:
    text = "\n".join(BODY[:2] + [line] + BODY[2:] + ["Tutti i diritti riservati"])
    assert strip(text).text == "\n".join(BODY[:2] + [line] + BODY[2:])


@pytest.mark.parametrize("opener", [
    "(ANSA) - ROMA, 3 DIC -", "WASHINGTON (Reuters) -", "Roma, 3 dic. (Adnkronos) -",
    "(AGI) - Roma, 3 dic. -", "BERLIN (dpa) -", "PARIS, 3 décembre (AFP) -",
    "MADRID, 3 Dic. (EFE) -", "Lisboa, 3 dez (Lusa) -",
])
def test_dateline_opener_is_never_stripped_nor_learned(opener: str) -> None:
    texts = ["\n".join([opener] + story(n)) for n in range(30)]
    learned = merge_counts({}, count_batch(texts))
    assert line_key(opener) not in learned
    assert strip(texts[0], learned).text == texts[0]


def test_footers_at_the_head_are_peeled_until_the_dateline() -> None:
    text = "\n".join(["© Reuters", "Riproduzione riservata"] + BODY + ["© Reuters"])
    cleaned = strip(text)
    assert cleaned.text == "\n".join(BODY)
    assert cleaned.removed == ("© Reuters", "Riproduzione riservata", "© Reuters")


def test_long_first_line_is_never_stripped() -> None:
    first = "Roma, 3 dicembre 2025 – " + "Il ministro ha parlato a lungo. " * 10 + "© ANSA"
    text = "\n".join([first] + BODY[1:])
    assert strip(text).text == text


def test_short_lines_after_a_tail_notice_go_with_it() -> None:
    tail = ["©2015 The Associated Press.", "All rights reserved. Terms",
            "under which this site is provided.", "Learn more about our", "Privacy Policy."]
    cleaned = strip("\n".join(BODY + tail))
    assert (cleaned.text, cleaned.removed) == ("\n".join(BODY), tuple(tail))


def test_short_lines_after_a_wire_credit_go_with_it() -> None:
    cleaned = strip("\n".join(BODY + ["SDA/sep", "Fehler gefunden?Jetzt melden."]))
    assert cleaned.removed == ("SDA/sep", "Fehler gefunden?Jetzt melden.")
    assert cleaned.rights is None


@pytest.mark.parametrize("tail", [
    ["Fehler gefunden? Jetzt melden."],  # no notice before it
    ["Tutti i diritti riservati",
     "Un'ultima frase del pezzo, abbastanza lunga da contare come contenuto vero."],
    ["Tutti i diritti riservati", "Uno.", "Due.", "Tre.", "Quattro."],  # more than 3
])
def test_short_last_lines_without_a_notice_stop_the_peel(tail: list[str]) -> None:
    text = "\n".join(BODY + tail)
    assert strip(text).text == text


def test_blank_lines_around_footers() -> None:
    cleaned = strip("\n".join(BODY + ["", "  ", "Alle Rechte vorbehalten.", ""]))
    assert cleaned.text == "\n".join(BODY)


# -- learning -------------------------------------------------------------------------------
PROMO = "Segui ANSA su WhatsApp: ricevi le notizie più importanti"
NEWSLETTER = "Iscriviti alla newsletter del mattino"


def site_batch(n: int = 25) -> list[str]:
    """``n`` articles of one site: distinct bodies, a shared promo, a dated line, a notice."""
    return ["\n".join(story(i) + [PROMO, updated(i), f"Rif. 2025-{12345 + i * 7} © Agenzia Esempio"])
            for i in range(n)]


def updated(i: int) -> str:
    return f"Aggiornato il {i % 28 + 1} dicembre 2025 alle 10:{i:02d}"


def test_learned_lines_are_stripped_after_count_batch_and_merge() -> None:
    texts = site_batch()
    learned = merge_counts({}, count_batch(texts))
    for i, text in enumerate(texts):
        cleaned = strip(text, learned, site="ansa.it")
        assert cleaned.text == "\n".join(story(i))
        assert cleaned.removed[0] == PROMO
        assert cleaned.rights == f"Rif. 2025-{12345 + i * 7} © Agenzia Esempio"


def test_count_batch_counts_articles_and_keeps_a_sample() -> None:
    batch = count_batch(site_batch())
    assert batch[line_key(PROMO)] == (25, PROMO)
    n, sample = batch["aggiornato il # <month> # alle #:#"]
    assert n == 25 and sample == "Aggiornato il 1 dicembre 2025 alle 10:00"
    assert batch["rif. #-12345 © agenzia esempio"][0] == 1  # its other figures count apart
    once = count_batch([f"{PROMO}\nbody line of some length\n{PROMO}"])
    assert once[line_key(PROMO)] == (1, PROMO)  # once per article


def test_stored_counts_make_a_single_new_article_clear_k() -> None:
    text = "\n".join(story(0) + [NEWSLETTER])
    stored = {line_key(NEWSLETTER): 2}
    assert strip(text, merge_counts(stored, count_batch([text]))).text == "\n".join(story(0))
    assert strip(text, merge_counts({}, count_batch([text]))).text == text


def test_line_in_only_two_articles_is_kept_with_k3() -> None:
    texts = ["\n".join(story(i) + ([NEWSLETTER] if i < 2 else [])) for i in range(10)]
    learned = merge_counts({}, count_batch(texts))
    assert learned[line_key(NEWSLETTER)] == 2
    assert strip(texts[0], learned).text == texts[0]
    assert strip(texts[0], learned, FooterRules(min_count=2)).text == "\n".join(story(0))


def test_learn_false_keeps_learned_lines_but_not_builtin_ones() -> None:
    texts = site_batch()
    learned = merge_counts({}, count_batch(texts))
    cleaned = strip(texts[3], learned, FooterRules(learn=False))
    assert cleaned.text == "\n".join(story(3) + [PROMO, updated(3)])
    assert cleaned.removed == (f"Rif. 2025-{12345 + 21} © Agenzia Esempio",)


def test_learned_line_only_in_the_runs() -> None:
    learned = {line_key(PROMO): 10}
    inside = "\n".join(story(0)[:2] + [PROMO] + story(0)[2:] + story(1))
    assert strip(inside, learned).text == inside  # mid-body: kept
    head = "\n".join([PROMO] + story(0))
    assert strip(head, learned).text == "\n".join(story(0))  # head run: stripped


def test_candidate_keys_take_short_lines_of_the_head_and_tail_runs() -> None:
    long_line = "Una frase molto lunga del corpo dell'articolo. " * 6
    text = "\n".join(["(ANSA) - ROMA, 3 DIC -", "Primo", "Secondo", "Terzo", "Centrale",
                      "Quarto", "Quinto", "Sesto", "Settimo", long_line, "Ultima riga 12"])
    keys = candidate_keys(text)
    assert list(keys) == ["primo", "secondo", "quinto", "sesto", "settimo", "ultima riga 12"]
    assert keys["ultima riga 12"] == "Ultima riga 12"


@pytest.mark.parametrize("line,key", [
    ("Segui ANSA su WhatsApp…", "segui ansa su whatsapp"),
    ("  Read   more: ", "read more"),
    ("Rif. 2025-12345 © ANSA", "rif. #-12345 © ansa"),
    ("Stand: 03.12.2025, 10:44 Uhr", "stand: #.#.#, #:# uhr"),
    ("Le 1er décembre 2025 à 10h44", "le # <month> # à #h#"),
    ("2025年1月14日 01時28分", "#年#月#日 #時#分"),
    ("Sale a 12 il bilancio: 3 dispersi", "sale a 12 il bilancio: 3 dispersi"),
    ("Aggiornato il 3 dicembre 2025 alle 10:44", "aggiornato il # <month> # alle #:#"),
    ("Publié le mercredi 3 décembre 2025", "publié le <day> # <month> #"),
    ("Updated Dec. 3, 2025", "updated <month> #, #"),
    ("May I help you?", "may i help you"),
])
def test_line_key(line: str, key: str) -> None:
    assert line_key(line) == key


# -- repeats ----------------------------------------------------------------------------------
def test_footer_printed_twice_goes_twice() -> None:
    notice = "Riproduzione riservata © Copyright ANSA"
    last = "Le opposizioni hanno annunciato emendamenti in aula dalla prossima settimana."
    cleaned = strip("\n".join(BODY + [notice, last, notice]))
    assert cleaned.text == "\n".join(BODY + [last])
    assert cleaned.removed == (notice, notice)
    cleaned = strip("\n".join([BODY[0], notice] + BODY[1:] + [notice]))
    assert cleaned.text == "\n".join(BODY)


def test_repeated_lead_is_kept_once() -> None:
    lead = BODY[1]
    cleaned = strip("\n".join(BODY + [lead, "Le opposizioni hanno annunciato emendamenti."]))
    assert cleaned.text == "\n".join(BODY + ["Le opposizioni hanno annunciato emendamenti."])
    assert cleaned.removed == (lead,)
    assert cleaned.rights is None


@pytest.mark.parametrize("line", [
    "Kategorie: Unterhaltung",  # a label repeating per item
    "Xiang nian ni xiang nian ni",  # a lyric
    "- Eintritt: 44,90 €/Person, Anmeldung per Email oder Telefon im Büro der "
    "Tourist-Information",
    "| Spalte | Spalte | Spalte |",
    "Short line.",
])
def test_short_labels_list_items_and_table_rows_may_repeat(line: str) -> None:
    text = "\n".join([BODY[1], line, BODY[2], line, "Fine dell'articolo, senza altro."])
    assert strip(text).text == text


# -- site patterns ------------------------------------------------------------------------
def test_site_patterns_match_host_and_subdomains_only() -> None:
    rules = FooterRules.from_config(True, 3, {"www.ansa.it": [r"^Ottieni il codice embed$"]})
    text = "\n".join(BODY + ["Ottieni il codice embed"])
    for site in ("ansa.it", "www.ansa.it", "video.ansa.it"):
        assert strip(text, rules=rules, site=site).removed == ("Ottieni il codice embed",)
    for site in ("notansa.it", "example.com"):
        assert strip(text, rules=rules, site=site).text == text


def test_site_pattern_mid_body_and_on_long_lines() -> None:
    rules = FooterRules.from_config(True, 3, {"ansa.it": [r"ANSA", r"Lorem.*fine\."]})
    mid = "\n".join(BODY[1:2] + ["Ottieni ANSA"] + BODY[2:])
    assert strip(mid, rules=rules, site="ansa.it").text == mid
    long_line = "Lorem " + "ipsum " * 60 + "fine."
    cleaned = strip("\n".join(BODY[1:] + [long_line + " e altro"]), rules=rules, site="ansa.it")
    assert cleaned.removed == ()  # long and only partly matched: kept
    cleaned = strip("\n".join(BODY[1:] + [long_line]), rules=rules, site="ansa.it")
    assert cleaned.removed == (long_line,)  # a long line the pattern matches whole


def test_site_patterns_are_case_insensitive_and_bad_ones_are_config_errors() -> None:
    rules = FooterRules.from_config(False, 5, {"ansa.it": ["^segui ansa"]})
    assert (rules.learn, rules.min_count) == (False, 5)
    assert strip("\n".join(BODY + [PROMO]), rules=rules, site="ansa.it").removed == (PROMO,)
    with pytest.raises(ConfigError, match=r"footers\.sites\.ansa\.it\[1\].*\(unterminated"):
        FooterRules.from_config(True, 3, {"ansa.it": ["ok", "(unterminated"]})


# -- rights ---------------------------------------------------------------------------------
def test_rights_is_the_first_removed_notice_else_the_feed_rights() -> None:
    text = "\n".join(["© Reuters"] + BODY + ["Reporting by A; Editing by B", "© 2025 Reuters"])
    assert strip(text, feed_rights="feed").rights == "© Reuters"
    assert strip("\n".join(BODY), feed_rights="© Feed 2025").rights == "© Feed 2025"
    assert strip("\n".join(BODY)).rights is None
    cleaned = strip("\n".join(BODY + ["Reporting by A; Editing by B"]), feed_rights="© Feed")
    assert cleaned.rights == "© Feed"


def test_nothing_to_do() -> None:
    assert strip("") == strip_footers("", learned={}, rules=RULES, site="")
    assert strip("").text == ""
    text = "\n".join(BODY)
    assert strip(text).text is text


def test_learned_line_mid_body_stays_even_when_its_tail_copy_goes() -> None:
    text = "\n".join(story(0)[:1] + [NEWSLETTER] + story(0)[1:] + [NEWSLETTER])
    cleaned = strip(text, {line_key(NEWSLETTER): 5})
    assert cleaned.text == "\n".join(story(0)[:1] + [NEWSLETTER] + story(0)[1:])


def test_learned_lines_never_take_the_whole_body():
    """Bulletins that differ only in their times would teach every line; the story stays."""
    texts = [f"Aggiornamento delle {h}:00: la borsa di Milano è aperta.\n"
             f"Il prossimo aggiornamento è previsto alle {h + 1}:00.\n"
             f"© Copyright ANSA" for h in (9, 10, 11, 12)]
    rules = FooterRules(learn=True, min_count=3)
    learned = merge_counts({}, count_batch(texts))
    for text in texts:
        cleaned = strip_footers(text, learned=learned, rules=rules, site="ansa.it")
        assert cleaned.text == "\n".join(text.split("\n")[:2])
        assert cleaned.removed == ("© Copyright ANSA",)


# -- head metadata: timestamps, reading time, bylines, translation credits, labels ----------
HEAD_META = {
    "en-published": "Published 3 May 2026",
    "en-updated": "Updated: May 3, 2026 10:44 AM ET",
    "en-read": "3 min read",
    "en-by": "By John Smith and Jane Doe",
    "en-by-agency": "By The Associated Press",
    "en-by-caps": "BY JANE DOE",
    "en-translated": "Translated by Anna Smith",
    "en-combined": "By Jane Doe | Published 3 May 2026 | 4 min read",
    "de-published": "- Veröffentlicht am 13. Mai 2026 um 15:44",
    "de-stand": "Stand: 13.05.2026 15:44 Uhr",
    "de-read": "- 3 Minuten Lesezeit",
    "de-von": "- Von: Bill MCCARTHY, Marisha GOLDHAMER",
    "de-von-particle": "Von Ursula von der Leyen",
    "de-translation": "- Übersetzung und Adaptierung: AFP Deutschland",
    "it-published": "Pubblicato il 3 dicembre 2025 alle 10:44",
    "it-updated": "Aggiornato il 04/12/2025 - 09:12",
    "it-read": "Lettura 3 min",
    "it-di": "Di Mario Rossi",
    "it-translation": "Traduzione di Marco Bianchi",
    "fr-published": "Publié le mercredi 3 décembre 2025 à 10h44",
    "fr-updated": "Mis à jour le 3 déc. 2025 à 11h",
    "fr-read": "Temps de lecture : 4 min",
    "fr-par": "Par Marie Dupont et Paul Martin",
    "es-published": "Publicado el 3 de diciembre de 2025 a las 10:44",
    "es-read": "Tiempo de lectura: 3 minutos",
    "es-por": "Por Agencia EFE",
    "pt-updated": "Atualizado em 3 de dezembro de 2025 às 10h44",
    "pt-read": "Tempo de leitura: 2 min",
    "pt-translation": "Tradução: João Silva",
    "nl-published": "Gepubliceerd op 3 december 2025 om 10:44",
    "nl-updated": "Bijgewerkt op 3 dec 2025, 10:44",
    "nl-read": "Leestijd 3 minuten",
    "nl-door": "Door Jan de Vries",
    "label": "Headline",
    "label-de": "Eilmeldung",
}


@pytest.mark.parametrize("line", HEAD_META.values(), ids=HEAD_META.keys())
def test_head_metadata_is_stripped_but_is_no_rights(line: str) -> None:
    cleaned = strip("\n".join([line] + BODY), feed_rights="© Feed")
    assert (cleaned.text, cleaned.removed, cleaned.rights) == ("\n".join(BODY), (line,), "© Feed")
    assert strip("\n".join([line] + BODY)).rights is None


def test_afp_head_block_goes_whole() -> None:
    head = [HEAD_META[k] for k in ("de-published", "de-read", "de-von", "de-translation")]
    cleaned = strip("\n".join(head + BODY[1:] + ["Copyright © AFP 2017-2026."]))
    assert cleaned.text == "\n".join(BODY[1:])
    assert cleaned.removed == (*head, "Copyright © AFP 2017-2026.")
    assert cleaned.rights == "Copyright © AFP 2017-2026."


@pytest.mark.parametrize("line", ["By John Smith", "Published 3 May 2026", "3 min read"])
def test_head_metadata_is_kept_anywhere_else(line: str) -> None:
    for text in ("\n".join(BODY + [line]), "\n".join(BODY[1:2] + [line] + BODY[2:]),
                 "\n".join([line, "Published 3 May 2026"])):  # no story after it
        assert strip(text).text == text


HEAD_TRAPS = {  # first lines that are content and must stay
    "en-by-the-end": "By the end of the year, the company plans to open forty new stores.",
    "en-by-then": "By then, it was too late.",
    "en-by-weekday": "By Tuesday Morning",
    "en-published-sentence": "He was published in 2019 in a small literary magazine.",
    "en-published-in": "Published in 2019 in London by Penguin, the book sold well.",
    "en-updated-figures": "Updated figures show a rise in 2025.",
    "en-minutes": "3 minutes later, the police arrived.",
    "it-di-fronte": "Di fronte alla crisi, il governo ha deciso di intervenire.",
    "it-di-maio": "Di Maio ha detto che il governo andrà avanti.",
    "fr-par-ailleurs": "Par ailleurs, le ministre a annoncé de nouvelles mesures.",
    "es-por-fin": "Por fin llegó el verano a la capital.",
    "nl-door-de-regen": "Door de regen liep de wedstrijd vertraging op.",
    "de-von-kindern": "Von Kindern und Eltern",
    "de-von-der-stadt": "Von Kindern der Stadt",
    "de-von-berlin": "Von Berlin nach Rom in sieben Stunden",
    "pt-publicado-por": "Publicado por Juan Pérez el 3 de mayo de 2025",
}


@pytest.mark.parametrize("line", HEAD_TRAPS.values(), ids=HEAD_TRAPS.keys())
def test_head_trap_is_kept(line: str) -> None:
    text = "\n".join([line] + BODY[1:])
    assert strip(text).text == text
    text = "\n".join([HEAD_META["en-published"], line] + BODY[1:])
    assert strip(text).removed == (HEAD_META["en-published"],)


# -- tail wire credits ----------------------------------------------------------------------
WIRE = {
    "en-additional": "Additional reporting by Jane Doe in London",
    "de-mitarbeit": "Mitarbeit: Hans Meier",
    "de-material": "Mit Material von dpa und AFP",
    "it-collaborato": "Hanno collaborato Marco Rossi e Anna Bianchi",
    "fr-avec": "Avec AFP",
    "es-informacion": "Con información de EFE",
    "pt-agencias": "Com agências",
    "nl-medewerking": "Met medewerking van Jan de Vries",
}


@pytest.mark.parametrize("line", WIRE.values(), ids=WIRE.keys())
def test_wire_credit_is_stripped_at_the_tail_only(line: str) -> None:
    cleaned = strip("\n".join(BODY + [line]), feed_rights="© Feed")
    assert (cleaned.text, cleaned.removed, cleaned.rights) == ("\n".join(BODY), (line,), "© Feed")
    text = "\n".join([line] + BODY[1:])
    assert strip(text).text == text


@pytest.mark.parametrize("line", [
    "The Associated Press contributed to this report.",
    "CNN’s Christine Romans and Emily Jane Fox contributed to this report",
    "Staff writer Jane Doe contributed reporting.",
    "Jean Dupont a contribué à cet article.",
])
def test_contributor_line_goes_only_before_another_footer(line: str) -> None:
    tail = [line, "The-CNN-Wire", "™ & © 2013 Cable News Network, Inc. All rights reserved."]
    cleaned = strip("\n".join(BODY + tail))
    assert (cleaned.text, cleaned.removed) == ("\n".join(BODY), tuple(tail))
    assert cleaned.rights == tail[-1]
    for text in ("\n".join(BODY + [line]),  # alone at the end: the story's last line
                 "\n".join(BODY + [line, "Loading weather data ..."])):  # unconfirmed
        assert strip(text).text == text


@pytest.mark.parametrize("line", [
    "He said he would return.",
    "Many factors contributed to this report's conclusions.",
    "Several agencies contributed to this report.",
    "Additional reporting by the Guardian revealed that the firm had lied.",
    "Avec ses enfants.",
])
def test_tail_trap_before_a_notice_is_kept(line: str) -> None:
    cleaned = strip("\n".join(BODY + [line, "© 2025 Reuters"]))
    assert (cleaned.text, cleaned.removed) == ("\n".join(BODY + [line]), ("© 2025 Reuters",))


# -- bounded work on hostile lines --------------------------------------------------------
# Each reproducer makes an ambiguous pattern backtrack for seconds or more, and an
# unambiguous one answer at once (bench/patterns.py prints the figures). The ceiling only
# tells a runaway from that, on a machine as busy as it may be.
RUNAWAY = 1.0


def _seconds(func, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


@pytest.mark.parametrize("line", [
    "ANSA" + "/AP" * 22 + "/1",  # each "AP" was both an agency and a short word: 2^22 ways
    "AP/" * 22 + "1",
    " , DPA" * 24 + "1",
], ids=["slashes", "leading-slashes", "commas"])
def test_agency_signature_rule_is_linear_on_repeated_agencies(line: str) -> None:
    from ingest.footers import lines as L

    seconds, credit = _seconds(L.is_credit, line)
    assert credit is False
    assert seconds < RUNAWAY


@pytest.mark.parametrize("line, credit", [
    ("ap/ap", True), ("AP, dpa", True), ("dpab/ANSA", True), ("ANSA/xyzw", True),
    ("ANSA/dpab", True), ("AP, apab", True),
    ("(ANSA/AP)", True), ("sep/aja/PAP/kna", True), ("ANSA/AP/1", False),
    ("ANSA/abcde", False), ("ansax", False), ("xyz/abc", False), ("AP, dpa, Milano", False),
])
def test_agency_signature_takes_each_word_whole(line: str, credit: bool) -> None:
    """Short words before the first agency, then agencies and short words: an agency
    that is also a short word ("ap") is taken once, as either."""
    from ingest.footers import lines as L

    assert L.is_credit(line) is credit


def test_contributor_rules_are_linear_on_spaces_an_accent_leaves() -> None:
    """"´" cleans to a space and a combining accent; dropping the accents leaves a run of
    spaces the names group and the space before the verb both matched (cubic)."""
    from ingest.footers import lines as L

    line = L._unaccent(L.clean("\u00b4" * 400 + "!"))
    assert line.strip() == "!"
    started = time.perf_counter()
    assert all(p.match(line) is None for p in L._CONTRIBUTOR)
    assert time.perf_counter() - started < RUNAWAY
    assert L.tail_credit("\u00b4" * 200 + "!") is None


# -- site patterns: the user's regexes ------------------------------------------------------
def test_a_site_pattern_that_backtracks_on_prose_is_bounded() -> None:
    rules = FooterRules.from_config(True, 3, {"ansa.it": [r"(\w+\s?)+©"]})
    line = "word " * 7 + "!"  # Python's re: seconds, growing ~8x with each word
    seconds, cleaned = _seconds(strip, "\n".join(BODY + [line]), None, rules, "ansa.it")
    assert cleaned.removed == ()
    assert seconds < RUNAWAY


def test_a_site_pattern_that_times_out_keeps_the_line_and_warns_once(monkeypatch,
                                                                      caplog) -> None:
    from ingest.footers import lines as L

    monkeypatch.setattr(L, "_timed_out", set())
    pattern = r"(?:\w|\w\w)+x"  # exponential in the regex module too: it meets the timeout
    rules = FooterRules.from_config(True, 3, {"ansa.it": [pattern]})
    texts = ["\n".join(BODY + ["x" + letter * 45 + "!"]) for letter in "ab"]
    with caplog.at_level("WARNING", logger="ingest.footers"):
        seconds, cleaned = _seconds(strip, texts[0], None, rules, "ansa.it")
        assert strip(texts[1], rules=rules, site="www.ansa.it").text == texts[1]
    assert cleaned.text == texts[0]  # timed out: not matched, so the line is kept
    assert seconds < RUNAWAY
    warnings = [r.getMessage() for r in caplog.records if r.name == "ingest.footers"]
    assert len(warnings) == 1, warnings  # one per pattern, not one per line
    assert pattern in warnings[0] and "footers.sites.ansa.it" in warnings[0]
    assert "simplify" in warnings[0]


def test_site_patterns_never_look_at_a_line_longer_than_the_cap() -> None:
    from ingest.footers import rules as R

    rules = FooterRules.from_config(True, 3, {"ansa.it": [r"^x+$"]})
    for n, removed in ((R.SITE_PATTERN_MAX_CHARS, True), (R.SITE_PATTERN_MAX_CHARS + 1, False)):
        text = "\n".join(BODY[1:] + ["x" * n])
        assert bool(strip(text, rules=rules, site="ansa.it").removed) is removed, n


def test_footer_rules_travel_pickled_with_their_site_patterns() -> None:
    import pickle

    rules = FooterRules.from_config(False, 4, {"ansa.it": [r"^segui ansa"], "x.com": ["y"]})
    one = rules.for_site("video.ansa.it")
    assert [p.pattern.pattern for p in one.patterns_for("video.ansa.it")] == [r"^segui ansa"]
    assert one.patterns_for("x.com") == ()
    text = "\n".join(BODY + [PROMO])
    for copy in (pickle.loads(pickle.dumps(rules)), pickle.loads(pickle.dumps(one))):
        assert (copy.learn, copy.min_count) == (False, 4)
        assert strip(text, rules=copy, site="video.ansa.it").removed == (PROMO,)


def test_compile_site_pattern_is_the_re_syntax_case_insensitive() -> None:
    import regex

    pattern = compile_site_pattern(r"^Segui (?:ANSA|AGI)\b")
    assert pattern.search("segui ansa su X") and not pattern.search("non segui ansa")
    for bad in ("(unterminated", "[z-a]", "x{3,1}"):
        with pytest.raises(regex.error):
            compile_site_pattern(bad)


def test_the_footer_stage_runs_the_pattern_the_config_check_compiled() -> None:
    """One compile path (ingest.site_patterns) for both: a pattern is compiled once."""
    checked = compile_site_pattern(r"^Segui ANSA\b")
    rules = FooterRules.from_config(True, 3, {"ansa.it": [r"^Segui ANSA\b"]})
    assert rules.patterns_for("ansa.it")[0].pattern is checked


@pytest.mark.parametrize("host", ["ansa.it", "www.ansa.it", " WWW.Ansa.IT. "])
def test_a_configured_host_is_one_site_however_it_is_written(host: str) -> None:
    rules = FooterRules.from_config(True, 3, {host: ["x"]})
    assert list(rules.site_patterns) == ["ansa.it"]
    assert [p.host for p in rules.patterns_for("www.ansa.it")] == ["ansa.it"]


def test_count_candidates_counts_what_count_batch_counts() -> None:
    texts = ["\n".join(story(n) + ["Segui ANSA"]) for n in range(3)]
    assert count_candidates(candidate_keys(t) for t in texts) == count_batch(texts)
