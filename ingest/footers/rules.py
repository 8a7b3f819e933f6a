r"""Built-in footer rules, as data: notices, wire credits, head metadata, datelines, dates.

lines.py and strip.py apply these tables; nothing here decides anything. Lines
are matched in a folded form (HTML entities decoded, NFKC, whitespace collapsed,
casefolded, accents of Latin / Greek / Cyrillic letters dropped), so entries are
lower-case regex fragments; accents written here are dropped the same way when they are
compiled. Write escapes in lower case only (\s, \d, \b). In MARKS, CREDIT_LINES,
WIRE_CREDITS, CONTRIBUTOR_LINES, DATE_CORE and DATELINES, {agencies} and {months} stand for
the alternations of AGENCIES and MONTHS (literal braces are doubled). Tail wire credits
and head metadata are matched case-insensitively with the line's case kept, because the
names in a byline are told from prose by their capitals (NAME_*).

Every pattern runs on untrusted text, so none may match one stretch of text in two ways
inside a repeat: a repeat that meets a class it overlaps (``\W*`` before a letter,
``\s*`` before a literal) is possessive (``*+``, ``++``), an agency list that a class
also matches is an atomic group that ends where a separator follows, and a free-text
group ends on a character the text after it cannot start with (``(?P<names>.*?\S)\s++``,
``(?P<names>.*?\w)\W*+$``).
tests/test_patterns_bounded.py times each of them on adversarial lines.
"""

from __future__ import annotations

# -- limits --------------------------------------------------------------------------------
NOTICE_MAX_CHARS = 200  # a built-in rule never matches a longer line ...
LONG_LINE = 250  # ... except an opening mark up to this. Longer lines are footers only
#                  when a site pattern matches them whole.
NOTICE_MAX_WORDS = 6  # words besides marks, phrases, agencies, years: "a few of attribution"
LEARN_MAX_CHARS = 120  # longer lines are never learned: a story's updates repeat its lede and
#                        closing line as often as a footer, and those are mostly longer, the
#                        promos a site repeats mostly shorter (python -m bench.footer_lines)
HEAD_RUN = 3  # non-blank lines at the head eligible for learning
TAIL_RUN = 5  # ... and at the tail (sites stack promos, links and the notice there)
TRAILER_MAX_LINES = 3  # short lines after a tail notice or credit ("Terms",
TRAILER_MAX_CHARS = 60  # "Privacy Policy.") go with it: at most this many, this long
REPEAT_MIN_CHARS = 20  # a later exact repeat of a sentence this long is template noise,
REPEAT_ANY_CHARS = 80  # ... and of any line this long (shorter labels repeat in lists, lyrics)
DATELINE_MAX_CHARS = 100  # "(ANSA) - ROMA, 3 DIC -" style openers are short
# A site pattern (config footers.sites) is a user's regex on untrusted text: it gets this
# long per line (seconds) and never sees a longer line; past either, the line is kept.
SITE_PATTERN_TIMEOUT = 0.05
SITE_PATTERN_MAX_CHARS = 2_000

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
    r"©(?:\s*+copyright\b)?",
    r"\bcopyright\s*+(?:©|\(c\)|@)",
    r"\bcopyright\b(?=\s*+(?:\d{{4}}|(?:{agencies})\b))",
    r"\(c\)(?=\s*+(?:\d{{4}}|copyright\b|(?:{agencies})\b))",
)
# A line that opens with one of these is a notice even with a licence sentence after it
# ("Copyright © AFP 2017-2026. Für die kommerzielle Nutzung ... erforderlich.").
OPENING_MARK = r"^[^\w©]*(?:©|copyright\s*+(?:©|\(c\)|@)|(?:copyright|\(c\))\s*+\d{4})"

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
    r"^\W*+(?:(?:{agencies})\W*+)?(?:additional )?(?:reporting|writing|editing|compiled) by\b"
    r"[^;]{{1,120}}+;\s*+(?:additional )?(?:reporting|writing|editing|compiled|graphics) by\b",
    r"^\((?:additional )?reporting by [^()]{{1,80}}+\)$",
    r"^\W*+our standards: the thomson reuters trust principles",
    # an agency signature alone: "(dpa)", "SDA/sep", "aja/PAP", "AFP/dpa/kna", "— AFP". Short
    # words before the first agency, agencies and short words after it: each word is taken
    # whole, once, up to the separator after it ("ap" is both an agency and a short word).
    r"^\W*+(?:(?!(?:{agencies})\s*/)[a-z]{{2,4}}+\s*+/\s*+)*+"
    r"(?>(?:{agencies})(?=\s*[/,]|\W*$))"
    r"(?:\s*+[/,]\s*+(?>(?:{agencies}|[a-z]{{2,4}})(?=\s*[/,]|\W*$)))*+\W*+$",
    # a wire service's signature: "The-CNN-Wire", "AP-Wire"
    r"^\W*+(?:the-[a-z]{{2,6}}|{agencies})-wire\W*+$",
    # a source credit naming only agencies: "Fonte: ANSA", "Quelle: dpa, AFP"
    r"^\W*+(?:fonte|quelle|sources?|fuente|bron)\s*+:\s*+(?:{agencies})"
    r"(?:\s*+[/,;]\s*+(?:{agencies}))*\W*+$",
)

# -- tail-run wire credits: removed from the tail run only; never a rights notice ----------
# Matched like CREDIT_LINES (folded); the part in the group "names" must be names
# (NAME_* below), checked with its case kept.
WIRE_CREDITS = (
    # "Additional reporting by X and Y", "Mitarbeit: X", "Hanno collaborato X e Y". The names
    # end on a letter or digit (or before " in Place"): the "\W*$" after them never has to
    # give back what it took.
    r"^\W*+(?:additional|with additional|further) reporting by\s++"
    r"(?P<names>.*?(?:\w|\S(?=\s++in\s)))(?:\s++in\s++(?-i:[A-Z])[\w .'-]{{1,30}})?\W*+$",
    r"^\W*+(?:mitarbeit|mitgearbeitet hat|mitgearbeitet haben)(?:\s*+:)?\s++(?P<names>.*?\w)\W*+$",
    r"^\W*+(?:ha|hanno) collaborato(?:\s*+:)?\s++(?P<names>.*?\w)\W*+$",
    r"^\W*+(?:avec la collaboration de|ont collabore a cet article\s*+:)\s++(?P<names>.*?\w)\W*+$",
    r"^\W*+(?:con (?:la )?colaboracion de|con reporteria de)\s++(?P<names>.*?\w)\W*+$",
    r"^\W*+(?:com (?:a )?colaboracao de|colaborou)(?:\s*+:)?\s++(?P<names>.*?\w)\W*+$",
    r"^\W*+met (?:medewerking|bijdragen) van\s++(?P<names>.*?\w)\W*+$",
    # agencies as the source of the story: "Avec AFP", "Con información de EFE",
    # "Mit Material von dpa und AFP", "Com agências", "(con agenzie)"
    r"^\W*+(?:avec|con informacion de|con (?:informacion|datos) de|mit material (?:von|der)"
    r"(?: nachrichtenagenturen?)?|com (?:informacoes|informacao) (?:da|de|do)s?|com|con)"
    r"\s++(?:l'|la |el |der |de )?(?:{agencies}|agenzie|agences|agencias|agencies"
    r"|agentschappen)(?:\s*+(?:[/,&]|and|und|e|et|y|en)\s*+(?:{agencies}))*\W*+$",
)
# A sentence that credits contributors is removed only when a footer the peel has already
# removed follows it ("CNN's X contributed to this report" / "The-CNN-Wire" / "© CNN").
# Alone at the end it stays: ground truth counts it as the story's last line. The names
# end on a non-space: each run of spaces is tried once, as the one before the verb.
CONTRIBUTOR_LINES = (
    r"^\W*+(?P<names>.*?\S)\s++(?:also )?contributed(?: (?:reporting|research)"
    r"(?: from [^.]{{1,40}}+)?| (?:reporting |research )?to this (?:report|story|article))\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:a|ont) contribue a cet article\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:ha|hanno) contribuito a (?:questo|quest') ?articolo\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:hat|haben) zu diesem (?:bericht|artikel) beigetragen\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:contribuyo|contribuyeron) a este (?:informe|articulo)\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:contribuiu|contribuiram) para (?:esta reportagem|este artigo)"
    r"\W*+$",
    r"^\W*+(?P<names>.*?\S)\s++(?:heeft|hebben) bijgedragen aan dit (?:artikel|verslag)\W*+$",
)

# -- head-run metadata: removed from the head run only; never a rights notice -------------
# Matched case-insensitively on the cleaned, unaccented line with its case kept, after a
# leading list bullet ("- "); a line may join several of them with " | ", " · ", " • ".
META_MAX_CHARS = 120  # longer lines are never metadata
META_HEAD_LINES = 6  # ... and only the first this many non-blank lines are looked at
# "Published 3 May 2026, 15:44", "Veröffentlicht am 13. Mai 2026 um 15:44": a label, then
# only date / time words: digits, MONTHS, WEEKDAYS, DATE_WORDS, other labels.
TIMESTAMP_LABELS = {
    "en": ("published(?: on| at)?", "(?:last |first )?updated(?: on| at)?", "posted(?: on| at)?",
           "first published(?: on| at)?", "(?:last )?modified(?: on)?", "date"),
    "de": ("veröffentlicht(?: am| um)?", "(?:zuletzt )?aktualisiert(?: am| um)?",
           "erschienen(?: am)?", "stand(?: vom)?", "datum"),
    "it": ("pubblicato(?: il| alle)?", "aggiornato(?: il| alle| a)?",
           "ultimo aggiornamento(?: il| alle)?", "ultima modifica(?: il)?", "data"),
    "fr": ("publié(?: le| à)?", "mis à jour(?: le| à)?", "modifié(?: le)?", "actualisé(?: le)?",
           "date"),
    "es": ("publicado(?: el| a las)?", "actualizado(?: el| a las)?",
           "última actualización(?: el)?", "fecha"),
    "pt": ("publicad[oa](?: em| às| a)?", "atualizad[oa](?: em| às| a)?",
           "actualizad[oa](?: em| às)?", "última atualização(?: em)?", "data"),
    "nl": ("gepubliceerd(?: op| om)?", "(?:laatst )?bijgewerkt(?: op| om)?", "geplaatst(?: op)?",
           "datum"),
}
# Words a date / time may hold besides digits, months and weekdays (lower case, no accents).
DATE_WORDS = (
    "at on the of um am uhr alle ore il le a l de del el em as las op om h hrs pm st nd rd th er o "
    "cet cest utc gmt est edt et pt pst pdt bst mez mesz ist "
    "ago vor fa il y hace ha geleden today yesterday heute gestern oggi ieri "
    "aujourd'hui hier hoy ayer hoje ontem vandaag gisteren "
    "min mins minute minutes hour hours day days minuten stunde stunden tag tagen minuto minuti "
    "ora giorni heure heures jour jours minutos hora horas dia dias minuut minuten uur dagen"
)
# A date must be one of these (folded): "13.05.2026", "2026", "15:44", "3 mai", "3 hours".
DATE_CORE = r"\d{{1,2}}[./-]\d{{1,2}}|\b\d{{4}}\b|\b\d{{1,2}}[:h.]\d{{2}}\b|\b(?:{months})\b"
# "3 min read", "3 Minuten Lesezeit", "Lettura 3 min", "Temps de lecture : 3 min"
READING_TIME = (
    r"^(?:reading time|read time|time to read|lesezeit|lesedauer|tempo di lettura|lettura"
    r"|temps de lecture|lecture|tiempo de lectura|lectura|tempo de leitura|leitura|leestijd"
    r"|leesduur)\s*+(?::\s*+)?(?:(?:ca\.?|circa|about|environ|unos|cerca de|ongeveer)\s*+)?\d++"
    r"(?:\s*+[-–]\s*+\d++)?\s*+(?:min\w*+|minute)\.?$",
    r"^(?:ca\.?|circa|about|environ|unos|cerca de|ongeveer)?\s*+\d++(?:\s*+[-–]\s*+\d++)?[\s-]*+"
    r"(?:min\w*|minute)\.?\s*+(?:read|reading|read time|lesezeit|lesedauer|lesen|di lettura"
    r"|lettura|de lecture|de lectura|de leitura|leitura|lectura|leestijd|leesduur|lezen)\.?$",
)
# Bylines: a prefix, then names only ("By X", "Von: X", "Di X", "Par X", "Por X", "Door X").
BYLINE_PREFIXES = (
    r"by", r"von", r"di", r"a cura di", r"par", r"por", r"door",
    r"(?:author|autor|autore|autrice|auteur|autora|auteurs?|authors?|text|texto|testo|texte"
    r"|tekst|reporter)(?=\s*:)",
)
# Translation / adaptation credits, then names: "Übersetzung und Adaptierung: AFP Deutschland"
TRANSLATION_LABELS = (
    r"translat(?:ed|ion)(?: (?:and|&) (?:adapt(?:ed|ation)|edit(?:ed|ing)))?(?: from \w+)?"
    r"(?: by)?",
    r"übersetz(?:ung|t)(?: (?:und|&) (?:adaptierung|anpassung|bearbeitung|redaktion))?"
    r"(?: aus dem \w+)?(?: von)?",
    r"tradu(?:zione|tto|tta)(?: (?:e|ed) adattamento)?(?: dall'\w+| dal \w+)?"
    r"(?: a cura di| da| di)?",
    r"tradu(?:ction|it|ite)(?: et adaptation)?(?: de l'\w+)?(?: par)?",
    r"traduc(?:ción|ido|ida)(?: y adaptación)?(?: del \w+)?(?: por| de)?",
    r"tradu(?:ção|zido|zida)(?: e adaptação)?(?: do \w+)?(?: por| de)?",
    r"vertal(?:ing|d)(?: en bewerking)?(?: uit het \w+)?(?: door)?",
)
# One-word kicker labels a template prints above the story ("Headline", "Eilmeldung").
HEAD_LABELS = (
    "headline", "breaking news", "eilmeldung", "ultim'ora", "ultima ora", "dernière minute",
    "última hora", "último minuto", "laatste nieuws",
)

# -- names in bylines and credits ----------------------------------------------------------
# A name is two or more capitalised words ("Bill MCCARTHY", "Jan de Vries", "Agencia EFE"),
# or one upper-case word or agency ("CNN", "dpa"); names are joined by commas, "&" or
# NAME_JOINERS; NAME_PARTICLES may sit inside a name; a leading article does not count.
NAME_JOINERS = ("and", "und", "e", "ed", "et", "y", "en", "&")  # lower case only
NAME_PARTICLES = (  # lower case only: "Jan de Vries", "Ursula von der Leyen"
    "van", "von", "van der", "van den", "von der", "van de", "ter", "ten", "de", "de la",
    "de los", "da", "di", "del", "della", "dei", "do", "dos", "das", "du", "bin", "ibn",
    "al", "el", "staff", "writer", "writers", "correspondent", "correspondents", "reporter",
    "reporters",
)
NAME_ARTICLES = ("the", "la", "le", "il", "el", "der", "die", "das", "de", "het")
NAME_MAX = 4  # names in one byline or credit
NAME_MAX_WORDS = 14  # words in all its names

# -- datelines: never stripped, never learned ----------------------------------------------
DATELINES = (
    r"^\W*+(?:{agencies})\W*[-–—]\s*+[^\W\d][^,]{{0,40}}+,\s*+\d",  # (ANSA) - ROMA, 3 DIC -
    r"^[^\W\d][\w .'’/-]{{0,40}}+\((?:{agencies})\)\s*+[-–—:]",  # WASHINGTON (Reuters) -
    r"^[^\W\d][\w .'’/-]{{0,40}}+,\s*+"  # Roma, 3 dicembre / PARIS, 3 déc. / NEW YORK, Dec. 3
    r"(?:\d{{1,2}}+\.?\s*+(?:{months})|(?:{months})\.?\s*+\d{{1,2}}\b)",
    r"[-–—]\s*+$",  # a short opener that ends with a dash
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
