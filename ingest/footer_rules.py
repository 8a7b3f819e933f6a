r"""Built-in footer rules, as data: copyright notices, wire credits, datelines, dates.

footers.py applies these tables; nothing here decides anything. Lines are matched in a
folded form (HTML entities decoded, NFKC, whitespace collapsed, casefolded, accents of
Latin / Greek / Cyrillic letters dropped), so entries are lower-case regex fragments;
accents written here are dropped the same way when they are compiled. Write escapes in
lower case only (\s, \d, \b). In MARKS, CREDIT_LINES and DATELINES, {agencies} and
{months} stand for the alternations of AGENCIES and MONTHS (literal braces are doubled).
"""

from __future__ import annotations

# -- limits --------------------------------------------------------------------------------
NOTICE_MAX_CHARS = 200  # a built-in rule never matches a longer line ...
LONG_LINE = 250  # ... except an opening mark up to this. Longer lines are footers only
#                  when a site pattern matches them whole.
NOTICE_MAX_WORDS = 6  # words besides marks, phrases, agencies, years: "a few of attribution"
LEARN_MAX_CHARS = 200  # longer lines are never learned
HEAD_RUN = 3  # non-blank lines at the head eligible for learning
TAIL_RUN = 5  # ... and at the tail (sites stack promos, links and the notice there)
TRAILER_MAX_LINES = 3  # short lines after a tail notice or credit ("Terms",
TRAILER_MAX_CHARS = 60  # "Privacy Policy.") go with it: at most this many, this long
REPEAT_MIN_CHARS = 20  # a later exact repeat of a sentence this long is template noise,
REPEAT_ANY_CHARS = 80  # ... and of any line this long (shorter labels repeat in lists, lyrics)
DATELINE_MAX_CHARS = 100  # "(ANSA) - ROMA, 3 DIC -" style openers are short

# -- press agencies: agency marks, and fillers that never count as extra words -------------
AGENCIES = (
    "ansa", "adn ?kronos", "agi", "la ?presse", "askanews", "italpress", "agenzia nova",
    "ap", "the associated press", "associated press", "thomson reuters", "reuters",
    "afp", "agence france-presse", "agence france presse", "dpa(?:-afx|-infocom)?",
    "deutsche presse-agentur", "epd", "kna", "keystone-sda", "keystone-ats", "sda", "apa",
    "agencia efe", "efe", "europa press", "agencia lusa", "lusa", "anp", "belga", "pap",
    "ctk", "tasr", "mti", "ritzau", "ntb", "upi", "aap", "pti", "ians", "xinhua", "kyodo",
    "yonhap", "tass", "ria novosti", "anadolu", "bernama", "antara", "연합뉴스", "共同通信",
    "新华社",
)

# The holder's legal form is a filler too ("Example Media GmbH").
COMPANY_FORMS = (
    "inc", "llc", "ltd", "limited", "gmbh", "ag", r"s\.?p\.?a", r"s\.?r\.?l", r"s\.?a",
    r"b\.?v", r"n\.?v", "plc", "corp", "co", "kg", "group",
)

# -- copyright marks -----------------------------------------------------------------------
# "copyright" and "(c)" count only next to a symbol, a year or an agency, so that
# "copyright law" or a list item "(c) the parties ..." is never a mark.
MARKS = (
    r"©(?:\s*copyright\b)?",
    r"\bcopyright\s*(?:©|\(c\)|@)",
    r"\bcopyright\b(?=\s*(?:\d{{4}}|(?:{agencies})\b))",
    r"\(c\)(?=\s*(?:\d{{4}}|copyright\b|(?:{agencies})\b))",
)
# A line that opens with one of these is a notice even with a licence sentence after it
# ("Copyright © AFP 2017-2026. Für die kommerzielle Nutzung ... erforderlich.").
OPENING_MARK = r"^[^\w©]*(?:©|copyright\s*(?:©|\(c\)|@)|(?:copyright|\(c\))\s*\d{4})"

# -- rights-reserved phrases, per language -------------------------------------------------
RIGHTS_PHRASES = {
    "it": ("riproduzione riservata", "tutti i diritti (?:sono )?riservati", "diritti riservati",
           "(?:e )?vietata la riproduzione(?: anche parziale)?", "riproduzione vietata"),
    "en": ("all rights reserved", "some rights reserved",
           "this material may not be published, broadcast, rewritten,? (?:and|or) redistributed",
           "may not be (?:reproduced|republished|redistributed) without "
           "(?:prior )?(?:written )?permission",
           "(?:is )?expressly prohibited without the prior written consent"),
    "de": ("alle rechte vorbehalten", "nachdruck (?:verboten|nur mit genehmigung)",
           "urheberrechtlich geschützt"),
    "fr": ("tous droits (?:de reproduction )?réservés", "droits réservés",
           "(?:toute )?reproduction(?: et diffusion)?(?: totale ou partielle)? interdites?"),
    "es": ("todos los derechos reservados", "derechos reservados",
           "(?:queda )?prohibida (?:su|la) (?:reproducción|redistribución)(?: total o parcial)?",
           "está expresamente prohibida la (?:reproducción|redistribución)"),
    "pt": ("todos os direitos reservados", "direitos reservados",
           "(?:é )?proibida a reprodução"),
    "nl": ("alle rechten voorbehouden", "auteursrechtelijk beschermd",
           "niets uit deze uitgave mag worden verveelvoudigd"),
    "pl": ("wszelkie prawa zastrzeżone", "(?:materiał )?chroniony prawem autorskim"),
    "cs": ("všechna práva vyhrazena",),
    "sk": ("všetky práva vyhradené",),
    "sv": ("alla rättigheter (?:förbehållna|reserverade)",),
    "da": ("alle rettigheder forbeholdes",),
    "no": ("alle rettigheter reservert",),
    "fi": ("kaikki oikeudet pidätetään",),
    "ro": ("toate drepturile rezervate",),
    "hu": ("minden jog fenntartva",),
    "tr": ("tüm hakları saklıdır",),
    "id": ("hak cipta dilindungi(?: undang-undang)?",),
    "ru": ("все права защищены",),
    "uk": ("(?:усі|всі) права захищені",),
    "el": ("με επιφύλαξη παντός δικαιώματος",),
    "ja": ("無断(?:転載|複製)(?:を|・|、)?(?:禁(?:じます|止(?:します)?)?)?",),
    "zh": ("版权所有", "版權所有", "未经授权不得转载"),
    "ko": (r"무단\s*전재[\s\-및&·,]*재배포(?:\s*금지)?", r"저작권자\s*(?:\(c\)|©)"),
}

# -- other built-in footer lines: removed, but they are not a rights notice ----------------
CREDIT_LINES = (
    # wire credits: "Reporting by X; Editing by Y", "(Reuters) - Reporting by X; ..."
    r"^\W*(?:(?:{agencies})\W*)?(?:additional )?(?:reporting|writing|editing|compiled) by\b"
    r"[^;]{{1,120}};\s*(?:additional )?(?:reporting|writing|editing|compiled|graphics) by\b",
    r"^\((?:additional )?reporting by [^()]{{1,80}}\)$",
    r"^\W*our standards: the thomson reuters trust principles",
    # an agency signature alone: "(dpa)", "SDA/sep", "aja/PAP", "AFP/dpa/kna", "— AFP"
    r"^\W*(?:[a-z]{{2,4}}\s*/\s*)*(?:{agencies})(?:\s*[/,]\s*(?:{agencies}|[a-z]{{2,4}}))*\W*$",
    # a source credit naming only agencies: "Fonte: ANSA", "Quelle: dpa, AFP"
    r"^\W*(?:fonte|quelle|sources?|fuente|bron)\s*:\s*(?:{agencies})"
    r"(?:\s*[/,;]\s*(?:{agencies}))*\W*$",
)

# -- datelines: never stripped, never learned ----------------------------------------------
DATELINES = (
    r"^\W*(?:{agencies})\W*[-–—]\s*[^\W\d][^,]{{0,40}},\s*\d",  # (ANSA) - ROMA, 3 DIC -
    r"^[^\W\d][\w .'’/-]{{0,40}}\((?:{agencies})\)\s*[-–—:]",  # WASHINGTON (Reuters) -
    r"^[^\W\d][\w .'’/-]{{0,40}},\s*"  # Roma, 3 dicembre / PARIS, 3 déc. / NEW YORK, Dec. 3
    r"(?:\d{{1,2}}\.?\s*(?:{months})|(?:{months})\.?\s*\d{{1,2}}\b)",
    r"[-–—]\s*$",  # a short opener that ends with a dash
)

# -- dates in learned keys -----------------------------------------------------------------
MONTHS = {
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
          "dicembre gen feb mar apr mag giu lug ago set ott nov dic",
    "en": "january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec",
    "de": "januar jänner februar märz april mai juni juli august september oktober november "
          "dezember jan feb mär apr jun jul aug sep okt nov dez",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre "
          "janv févr avr juil sept oct nov déc",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
          "noviembre diciembre ene feb mar abr may jun jul ago sep oct nov dic",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro "
          "dezembro jan fev mar abr mai jun jul ago set out nov dez",
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
          "december jan feb mrt apr jun jul aug sep okt nov dec",
}
WEEKDAYS = {
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica",
    "en": "monday tuesday wednesday thursday friday saturday sunday",
    "de": "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "pt": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
}
MONTH_TOKEN = "<month>"  # a date's month in a learned key: "aggiornato il # <month> #"
DAY_TOKEN = "<day>"  # a weekday before a date: "publié le <day> # <month> #"
