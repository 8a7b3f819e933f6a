"""Footer and boilerplate removal: built-in notices, learned per-site lines, repeats.

Pure functions over trafilatura's plain text (lines separated by "\\n"). Only the head
and tail runs are touched: lines are peeled from each end inward while they are
footers, so nothing inside the body is removed (except later exact repeats of a line).
The head also loses its metadata block (timestamps, reading time, bylines), the tail its
wire credits. Lines are classified in lines.py, by the tables in rules.py;
per-site counts live in the state store:

    stored = store.footer_counts(site, learnable_keys(texts))
    batch = count_batch(texts)                       # this batch's new articles
    learned = merge_counts(stored, batch)
    cleaned = [strip_footers(t, learned=learned, rules=rules, site=site) for t in texts]
    store.add_footer_counts(site, batch)

Site patterns (config ``footers.sites``) are the user's regexes on untrusted text: they
are compiled with the ``regex`` module (`ingest.site_patterns`) and each search runs
under a timeout, on lines up to a length (lines.site_pattern_matches).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import regex

from ingest.errors import ConfigError
from ingest.footers import rules as R
from ingest.footers.lines import (
    SitePattern,
    classifier,
    clean,
    fold,
    is_credit,
    is_dateline,
    is_head_meta,
    is_notice,
    is_paragraph,
    learnable,
    line_key,
    tail_credit,
)
from ingest.models import Cleaned
from ingest.site_patterns import compile_site_pattern
from ingest.urls import without_www

__all__ = ["FooterRules", "SitePattern", "candidate_keys", "count_batch", "count_candidates",
           "key_applies", "learnable_keys", "learning_runs", "merge_counts", "strip_footers",
           "line_key", "is_notice", "is_credit", "is_dateline", "fold"]


@dataclass(frozen=True)
class FooterRules:
    """Config ``footers``: learning on/off, K, and extra regexes per host. Picklable: it
    goes to the worker processes with each footer job."""

    learn: bool = True
    min_count: int = 3  # K: articles of one site a line must recur in
    site_patterns: Mapping[str, tuple[SitePattern, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, learn: bool, min_count: int,
                    sites: Mapping[str, Sequence[str]]) -> FooterRules:
        compiled: dict[str, tuple[SitePattern, ...]] = {}
        for host, patterns in sites.items():
            found = tuple(SitePattern(_host(host), _compiled(host, i, pattern))
                          for i, pattern in enumerate(patterns))
            compiled[_host(host)] = compiled.get(_host(host), ()) + found
        return cls(learn=learn, min_count=min_count, site_patterns=compiled)

    def patterns_for(self, site: str) -> tuple[SitePattern, ...]:
        """Patterns of ``site`` and of every parent domain (a host and its subdomains)."""
        parts = _host(site).split(".")
        return tuple(p for i in range(len(parts))
                     for p in self.site_patterns.get(".".join(parts[i:]), ()))

    def for_site(self, site: str) -> FooterRules:
        """The same rules with only the patterns ``site`` uses: less to pickle per job."""
        return FooterRules(learn=self.learn, min_count=self.min_count,
                           site_patterns={_host(site): self.patterns_for(site)})


def _compiled(host: str, i: int, pattern: str) -> regex.Pattern:
    try:
        return compile_site_pattern(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise ConfigError(
            f"footers.sites.{host}[{i}]: {pattern!r} is not a valid regular "
            f"expression ({exc}); fix it or remove it") from exc


def _host(host: str) -> str:
    return without_www(host.strip().strip(".").lower())


# -- learning ------------------------------------------------------------------------------
def learning_runs(lines: Sequence[str]) -> list[int]:
    """Indices of the head run and tail run: the first/last few non-blank lines, the only
    lines learning counts."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:R.HEAD_RUN]) | set(filled[-R.TAIL_RUN:]))


def candidate_keys(text: str) -> dict[str, str]:
    """``{key: original line}`` for the head/tail-run lines eligible for learning."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    for i in learning_runs(lines):
        if learnable(lines[i]) and (key := line_key(lines[i])):
            found.setdefault(key, lines[i].strip())
    return found


def count_batch(texts: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``{key: (articles of the batch it occurs in, a sample line)}``."""
    return count_candidates(candidate_keys(text) for text in texts)


def count_candidates(candidates: Iterable[Mapping[str, str]]) -> dict[str, tuple[int, str]]:
    """``count_batch`` from each text's ``candidate_keys`` (computed in a worker)."""
    counts: dict[str, tuple[int, str]] = {}
    for found in candidates:
        for key, line in found.items():
            n, sample = counts.get(key, (0, line))
            counts[key] = (n + 1, sample)
    return counts


def learnable_keys(texts: Sequence[str]) -> set[str]:
    """Keys of every line of ``texts`` a learned count could remove: the only
    counts worth reading from the store for this batch."""
    keys = set()
    for text in texts:
        for line in text.split("\n"):
            c = clean(line)
            if learnable(c):
                keys.add(line_key(c))
    return keys


def key_applies(key: str, sample: str) -> bool:
    """Whether a stored count (``key`` and its ``sample`` line) is one ``strip_footers`` can
    still apply: a count kept under an older form of the key, or of a line longer than the
    cap, is never read again, so a listing must not call its line removed."""
    return learnable(sample) and line_key(sample) == key


def merge_counts(stored: Mapping[str, int],
                 batch: Mapping[str, tuple[int, str]]) -> dict[str, int]:
    """Stored counts plus this batch's, as ``strip_footers`` wants them."""
    merged = dict(stored)
    for key, (n, _sample) in batch.items():
        merged[key] = merged.get(key, 0) + n
    return merged


# -- stripping -----------------------------------------------------------------------------
def _peel_tail(lines: Sequence[str], kind: Callable[[str], str | None]) -> dict[int, str]:
    """Footers peeled from the end inward. A few short lines after a notice or a wire
    credit ("Terms", "Privacy Policy.") go with it; unconfirmed, they stop the peel.
    "X contributed to this report" goes only when a removed footer follows it."""
    drop: dict[int, str] = {}
    held: list[int] = []
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].strip():
            continue
        k = kind(lines[i]) or tail_credit(lines[i])
        if k == "contributor" and not drop:
            k = None
        if k:
            drop[i] = k
            if k in ("notice", "credit"):
                drop.update((h, "trailer") for h in held)
                held = []
        elif len(held) < R.TRAILER_MAX_LINES and len(lines[i].strip()) <= R.TRAILER_MAX_CHARS:
            held.append(i)
        else:
            break
    return {i: k for i, k in drop.items() if not held or i > held[0]}


def _peel_head(lines: Sequence[str], kind: Callable[[str], str | None],
               stop: int) -> dict[int, str]:
    """Footers and metadata (timestamps, bylines, reading time) peeled from the start;
    metadata only in the first few lines and only when a kept line follows it."""
    drop: dict[int, str] = {}
    filled = 0
    for i in range(stop):
        if not lines[i].strip():
            continue
        k = kind(lines[i]) or ("meta" if filled < R.META_HEAD_LINES and is_head_meta(lines[i])
                               else None)
        filled += 1
        if not k:
            return drop
        drop[i] = k
    return {i: k for i, k in drop.items() if k != "meta"}


def _repeats(lines: Sequence[str], drop: Mapping[int, str]) -> dict[int, str]:
    """Copies of removed rule lines anywhere (a footer printed twice goes twice); later
    exact repeats of sentences and long lines, except list items and table rows."""
    footers = {clean(lines[i]) for i, k in drop.items() if k in ("notice", "credit", "pattern")}
    seen: set[str] = set()
    found: dict[int, str] = {}
    for i, line in enumerate(lines):
        c = clean(line)
        if i in drop or not c:
            continue
        if c in footers or (c in seen and is_paragraph(c)):
            found[i] = "repeat"
        seen.add(c)
    return found


def _drops(lines: list[str], learned: Mapping[str, int], rules: FooterRules,
           site: str) -> dict[int, str]:
    """{line index: why} for the head/tail footer runs and repeated lines."""
    kind = classifier(learned, rules.min_count, rules.patterns_for(site))
    drop = _peel_tail(lines, kind)
    drop.update(_peel_head(lines, kind, min(drop, default=len(lines))))
    drop.update(_repeats(lines, drop))
    return drop


def strip_footers(text: str, *, learned: Mapping[str, int], rules: FooterRules,
                  site: str, feed_rights: str | None = None) -> Cleaned:
    """Remove footer lines from the head and tail runs, and repeated lines.

    ``learned`` is ``merge_counts(...)``; ignored when ``rules.learn`` is off.
    ``rights`` is the first removed copyright notice, else ``feed_rights``.
    """
    lines = text.split("\n")
    drop = _drops(lines, learned if rules.learn else {}, rules, site)
    if len(drop) >= sum(1 for line in lines if line.strip()) and rules.learn:
        # Learned lines would take the whole body: the site's articles differ only
        # in their dates and times (bulletins) or one story came under several URLs.
        # Keep the story; take only what the fixed rules name.
        drop = _drops(lines, {}, rules, site)
    if not drop:
        return Cleaned(text=text, rights=feed_rights)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    notices = [" ".join(html.unescape(lines[i]).split()) for i in sorted(drop)
               if drop[i] == "notice"]
    return Cleaned(text="\n".join(kept),
                   removed=tuple(lines[i] for i in sorted(drop)),
                   rights=notices[0] if notices else feed_rights)
