"""Adversarial inputs for a compiled regex, built from the pattern itself, and the worst time.

A backtracking regex goes runaway when one stretch of text can be matched in several ways
inside a repeat, and the match then fails late. The inputs that expose it repeat what the
pattern's own parts match. So, from the parse tree (``re._parser``), this helper collects
*pieces* (literal runs, a sample character of each class, a sample of each branch, the body
of each repeat) and *attacks* (what a repeat's body matches, after the text that leads up
to that repeat). Each piece, pair of pieces and attack is repeated to the wanted length and
followed by a suffix that makes the match fail late; ``worst_case`` times ``search`` on each.

    worst = worst_case(re.compile(r"(a|a)*b"), length=200)
    worst.text, worst.seconds        # the slowest input, and its best-of-3 time

Runaway patterns never run at full length: an input grows step by step and stops as soon
as one search passes the ceiling, so an exponential pattern costs a few ceilings, not hours.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
import time
from dataclasses import dataclass
from re import _constants as C  # the opcodes re._parser's tree is made of
from re import _parser

# A search slower than this on a line of a built-in rule's longest length is runaway work.
LINE_CEILING = 0.05

SUFFIXES = ("", "!", "1", "\x00", "\n")  # each makes some match fail at the very end
# Characters tried against classes: ASCII, a few accented / typographic ones, a combining
# accent, CJK, a private-use mark (footer_lines uses one), NUL, controls.
_POOL = ("a", "A", "z", "0", "1", " ", "!", ".", ",", "-", "/", ":", ";", "(", ")", "<", ">", "[",
         "]", "#", "&", "'", '"', "_", "=", "?", "@", "\t", "\n", "\x00", "é", "ü", "©", "–", "’",
         "\u0301", "中", "\ue000", "\u00a0")
_BRANCHES = 8  # branches sampled per alternation: the shortest half, then spread evenly
_PIECES = 24  # pieces repeated alone ...
_JOINERS = 8  # ... and paired with this many of the shortest
_VARIANTS = 12  # samples per sequence: its first, then one element varied at a time
_RUNS = 3  # best of, for an input that passes the ceiling once
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)


@dataclass(frozen=True)
class Worst:
    text: str | bytes
    seconds: float


def worst_case(pattern: re.Pattern, length: int = 200, ceiling: float = 0.05, *,
               thorough: bool = True) -> Worst:
    """The slowest of the adversarial inputs of about ``length`` characters, and its time.

    Stops at the first input whose search passes ``ceiling`` (best of 3): it is reported
    at the length it had reached, so a runaway pattern fails fast. ``thorough=False``
    leaves out the pairs of pieces and all suffixes but two (for long texts, where the
    runaway kind is a search that rescans the rest of the text from each copy)."""
    worst = Worst("", 0.0)
    suffixes = SUFFIXES if thorough else SUFFIXES[:2]
    for text, seconds in _inputs(pattern, length, ceiling, thorough, suffixes):
        if seconds > worst.seconds:  # a new worst: best of three, not a scheduler's pause
            seconds = min([seconds] + [_once(pattern, text) for _ in range(_RUNS - 1)])
            worst = max(worst, Worst(text, seconds), key=lambda w: w.seconds)
        if seconds > ceiling:
            break
    return worst


def adversarial_units(pattern: re.Pattern, pairs: bool = True) -> list[tuple[str, str]]:
    """``(prefix, unit)`` pairs: inputs are ``prefix + unit * n + suffix``.

    A repeat's body after its prefix makes one match try many splits; the prefix and the
    body repeated together make a search restart at each copy and rescan the rest."""
    walk = _Walk(pattern.flags)
    walk.sequence(_parser.parse(pattern.pattern, pattern.flags), "")
    units = []  # the likeliest culprits first: a failing pattern fails sooner
    for prefix, bodies in walk.attacks:
        units += [(prefix, b) for b in bodies] + [("", prefix + b) for b in bodies[:2]]
    pieces = _spread(sorted(walk.pieces), _PIECES, len)
    units += [("", p) for p in pieces]
    if pairs:
        joiners = sorted(pieces, key=lambda p: (len(p), p))[:_JOINERS]
        units += [(prefix, a + b) for prefix, bodies in walk.attacks
                  for a in bodies[:4] for b in bodies[:4] if a != b]
        units += [("", p + j) for p in pieces for j in joiners if p != j]
    seen: set[tuple[str, str]] = set()
    binary = isinstance(pattern.pattern, bytes)
    return [u for u in units if u[1] and u not in seen and not seen.add(u)
            and (not binary or max(map(ord, u[0] + u[1])) < 256)]


def package_patterns(package) -> tuple[dict[str, re.Pattern], dict[str, str]]:
    """Every compiled pattern at module level in the modules of ``package`` and its subpackages (alone, or in
    a tuple, list or dict), as ``{"module.NAME[i]": pattern}``, each once, under the
    first module (alphabetically) that holds it; and ``{module: error}`` for the modules
    that did not import. ``__main__`` is left out: importing it runs the program."""
    found: dict[str, re.Pattern] = {}
    failed: dict[str, str] = {}
    seen: set[int] = set()
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        short = info.name.removeprefix(f"{package.__name__}.")
        if short == "__main__":
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who decides
            failed[short] = f"{type(exc).__name__}: {exc}"
            continue
        for name, value in vars(module).items():
            for suffix, pattern in _compiled_in(value):
                if id(pattern) not in seen:
                    seen.add(id(pattern))
                    found[f"{short}.{name}{suffix}"] = pattern
    return found, failed


def _compiled_in(value) -> list[tuple[str, re.Pattern]]:
    if isinstance(value, re.Pattern):
        return [("", value)]
    if isinstance(value, dict):
        items = [(f"[{key!r}]", item) for key, item in value.items()]
    elif isinstance(value, (tuple, list)):
        items = [(f"[{i}]", item) for i, item in enumerate(value)]
    else:
        return []
    return [(suffix, item) for suffix, item in items if isinstance(item, re.Pattern)]


# -- timing --------------------------------------------------------------------------------
def _inputs(pattern: re.Pattern, length: int, ceiling: float, pairs: bool, suffixes):
    """Each unit grown towards ``length``: the text it reached and its time."""
    for prefix, unit in adversarial_units(pattern, pairs):
        for suffix in suffixes:
            yield _grow(pattern, prefix, unit, suffix, length, ceiling)


def _grow(pattern, prefix: str, unit: str, suffix: str, length: int, ceiling: float):
    """Up to ``length`` in steps no runaway pattern can jump far past the ceiling in. Up to
    32 copies, each copy may triple the time (exponential patterns show themselves
    there); past 32, the count grows as if the time grew with its cube."""
    full = max(1, math.ceil((length - len(prefix) - len(suffix)) / len(unit)))
    n = 1
    while True:
        text = _encode(pattern, prefix + unit * n + suffix)
        seconds = _once(pattern, text)
        if seconds > ceiling:  # twice more: a busy machine's pause is no runaway
            seconds = min([seconds] + [_once(pattern, text) for _ in range(_RUNS - 1)])
        if n >= full or seconds > ceiling:
            return text, seconds
        ratio = ceiling / max(seconds, 1e-7)
        if n < 32:
            n = min(full, 32, max(n + 1, n + int(math.log(ratio, 3))))
        else:
            n = min(full, int(n * max(1.25, ratio ** (1 / 3))))


def _once(pattern: re.Pattern, text) -> float:
    start = time.perf_counter()
    pattern.search(text)
    return time.perf_counter() - start


def _encode(pattern: re.Pattern, text: str):
    return text.encode("latin-1") if isinstance(pattern.pattern, bytes) else text


# -- the parse tree --------------------------------------------------------------------------
class _Walk:
    """Collects pieces and attacks from a parsed pattern."""

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.pieces: set[str] = set()
        self.attacks: list[tuple[str, list[str]]] = []

    def sequence(self, seq, prefix: str) -> None:
        run = ""
        for op, av in seq:
            if op is C.LITERAL:
                run += chr(av)
            elif run:
                self.pieces.add(run)
                run = ""
            self.item(op, av, prefix)
            prefix += samples([(op, av)], self.flags)[0]
        if run:
            self.pieces.add(run)

    def item(self, op, av, prefix: str) -> None:
        if op in (C.IN, C.NOT_LITERAL, C.ANY):
            self.pieces.update(_item_samples(op, av, self.flags)[:3])
        elif op is C.BRANCH:
            for branch in _branches(av[1], self.flags):
                self.pieces.add(samples(branch, self.flags)[0])
                self.sequence(branch, prefix)
        elif op is C.SUBPATTERN:
            self.sequence(av[3], prefix)
        elif op is C.ATOMIC_GROUP:
            self.sequence(av, prefix)
        elif op in (C.ASSERT, C.ASSERT_NOT):
            self.sequence(av[1], prefix)
        elif op is C.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None:
                    self.sequence(branch, prefix)
        elif op in _REPEATS:
            _, high, body = av
            bodies = [b for b in samples(body, self.flags) if b]
            if high > 1 and bodies:
                self.attacks.append((prefix, bodies))
                self.pieces.add(bodies[0])
            self.sequence(body, prefix)


def samples(seq, flags: int) -> list[str]:
    """Strings ``seq`` matches (or nearly): the first one, then one element varied at a time."""
    options = [_item_samples(op, av, flags) for op, av in seq]
    first = [o[0] for o in options]
    found = ["".join(first)]
    for i, alternatives in enumerate(options):
        for alt in alternatives[1:]:
            if len(found) >= _VARIANTS:
                return found
            found.append("".join(first[:i] + [alt] + first[i + 1:]))
    return found


def _item_samples(op, av, flags: int) -> list[str]:
    if op is C.LITERAL:
        return [chr(av)]
    if op is C.NOT_LITERAL:
        return [c for c in _POOL if ord(c) != av][:3]
    if op is C.ANY:
        return ["a", " "] + (["\n"] if flags & re.DOTALL else [])
    if op is C.IN:
        return _class_members(av, flags) or ["a"]
    if op is C.BRANCH:
        return [samples(b, flags)[0] for b in _branches(av[1], flags)]
    if op is C.SUBPATTERN:
        return samples(av[3], flags)
    if op is C.ATOMIC_GROUP:
        return samples(av, flags)
    if op in _REPEATS:
        low, _, body = av
        inner = samples(body, flags)
        return [s * max(low, 1) for s in inner] + ([""] if low == 0 else [])
    if op is C.GROUPREF_EXISTS:
        return [s for branch in av[1:] if branch is not None for s in samples(branch, flags)]
    return [""]  # AT, assertions, group references: zero width, or nothing to sample


def _class_members(items, flags: int) -> list[str]:
    """A few characters of a class ``[...]``: its own literals and range ends first, then
    members of the pool (all a negated class or a category offers)."""
    negated = any(op is C.NEGATE for op, _ in items)
    own = [] if negated else [chr(av) for op, av in items if op is C.LITERAL]
    own += [] if negated else [chr(c) for op, av in items if op is C.RANGE for c in av]
    members = own + [c for c in _POOL if _in_class(c, items, negated, flags)]
    return list(dict.fromkeys(members))[:6]


def _in_class(char: str, items, negated: bool, flags: int) -> bool:
    code = ord(char)
    folded = {code, ord(char.lower()), ord(char.upper())} if flags & re.IGNORECASE else {code}
    hit = False
    for op, av in items:
        if op is C.LITERAL:
            hit = hit or av in folded
        elif op is C.RANGE:
            hit = hit or any(av[0] <= c <= av[1] for c in folded)
        elif op is C.CATEGORY:
            hit = hit or _CATEGORY.get(av, lambda c: False)(char)
    return hit != negated


_CATEGORY = {
    C.CATEGORY_DIGIT: lambda c: bool(re.match(r"\d", c)),
    C.CATEGORY_NOT_DIGIT: lambda c: not re.match(r"\d", c),
    C.CATEGORY_SPACE: lambda c: bool(re.match(r"\s", c)),
    C.CATEGORY_NOT_SPACE: lambda c: not re.match(r"\s", c),
    C.CATEGORY_WORD: lambda c: bool(re.match(r"\w", c)),
    C.CATEGORY_NOT_WORD: lambda c: not re.match(r"\w", c),
}


def _branches(branches, flags: int) -> list:
    """The first branch (the one a sample takes), then a spread of the others."""
    return [branches[0]] + _spread(branches[1:], _BRANCHES - 1,
                                   lambda b: len(samples(b, flags)[0]))


def _spread(items: list, n: int, size) -> list:
    """At most ``n`` of ``items``, deterministic: the smallest half (short branches are the
    ones other parts of a pattern also match), then the rest evenly spread."""
    items = list(items)
    if len(items) <= n:
        return items
    by_length = sorted(range(len(items)), key=lambda i: size(items[i]))
    chosen = by_length[:n // 2]
    rest = [i for i in range(len(items)) if i not in chosen]
    step = len(rest) / (n - len(chosen))
    chosen += [rest[int(k * step)] for k in range(n - len(chosen))]
    return [items[i] for i in sorted(chosen)]


def footer_table_patterns() -> dict[str, re.Pattern]:
    """Each entry of the footer tables footers.lines joins into one pattern, compiled as it
    compiles them: a slow entry is named, and each gets inputs of its own."""
    from ingest.footers import lines as L
    from ingest.footers import rules as R

    tables = {"MARKS": R.MARKS, "CREDIT_LINES": R.CREDIT_LINES, "DATELINES": R.DATELINES,
              "READING_TIME": R.READING_TIME, "TRANSLATION_LABELS": R.TRANSLATION_LABELS}
    found = {f"footers.rules.{name}[{i}]": L._any([p], **L._fmt)
             for name, table in tables.items() for i, p in enumerate(table)}
    found.update({f"footers.rules.RIGHTS_PHRASES[{lang!r}][{i}]": re.compile(L._unaccent(p))
                  for lang, phrases in R.RIGHTS_PHRASES.items() for i, p in enumerate(phrases)})
    return found
