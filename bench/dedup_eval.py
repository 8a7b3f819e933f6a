"""The dedup bench's labelled set and its scoring: which pairs of texts are the same story,
and how well a fingerprint configuration finds them.

The set: every article of the corpus (bench.dedup_corpus) and one copy of it per change
rate (bench.dedup_copies). Pairs of one original (or of its copies) are the same story;
pairs of different originals of one site are the hard negatives; all other pairs are easy
negatives. Originals that are copies of each other in the corpus itself (exact resemblance
at least SAME_TEXT) are one story.

A pair is found at threshold t when the two texts share a band key (the index lookup) and
their estimated similarity is at least t. Recall counts original-copy pairs; precision
counts every pair found.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.dedup_copies import CHANGE_RATES, make_copy, site_of
from bench.dedup_corpus import Article, load_articles
from ingest.dedup.fingerprint import Fingerprint
from ingest.dedup.minhash import band_keys, signature
from ingest.dedup.shingles import SHINGLE, Tokens, shingle_hashes, tokens

SAME_TEXT = 0.7
SEED = 16
THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(13)]
CANDIDATE_FLOOR = 0.95  # a threshold is where the band keys find at least this share of pairs


@dataclass(frozen=True)
class Config:
    k_word: int
    k_char: int
    num_perm: int
    bands: int


@dataclass
class Doc:
    origin: int  # the story: index of its original (of the first one, for merged originals)
    source: int  # index of the original it is a copy of (its own index for an original)
    group: str
    name: str
    text: str
    spaceless: bool
    rate: float | None  # share of words changed (CHANGE_RATES); None for an original
    tokens: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.uint64))


@dataclass
class Scored:
    """One configuration's view of the set: the candidate pairs and their similarity."""

    pairs: np.ndarray  # (n, 2) document indices, i < j, that share a band key
    similarity: np.ndarray  # estimated, per pair


def labelled_set(corpus: Path) -> list[Doc]:
    articles = load_articles(corpus, lambda t: tokens(t).words)
    found = [tokens(a.text) for a in articles]
    origin = _merge_copies_in_corpus(articles, [f.hashes for f in found])
    docs = [Doc(origin[i], i, a.group, a.name, a.text, spaceless(f), None, f.hashes)
            for i, (a, f) in enumerate(zip(articles, found, strict=True))]
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(articles):
        by_group[a.group].append(i)
    rng = random.Random(SEED)
    for group, members in sorted(by_group.items()):
        site = site_of([articles[i].text for i in members], [docs[i].spaceless for i in members])
        for i in members:
            for rate in CHANGE_RATES:
                copy = make_copy(articles[i].text, docs[i].spaceless, rate, site, rng)
                docs.append(Doc(origin[i], i, group, f"{articles[i].name} copy {rate:.0%}",
                                copy, docs[i].spaceless, rate))
    for d in docs:
        if d.rate is not None:
            d.tokens = tokens(d.text).hashes
    return docs


def spaceless(found: Tokens) -> bool:
    """Most of the text's tokens are characters of scripts without spaces."""
    return 2 * found.characters > found.hashes.size


def _merge_copies_in_corpus(articles: list[Article], hashes: list[np.ndarray]) -> list[int]:
    sets = [set(shingle_hashes(h, SHINGLE).tolist()) for h in hashes]
    origin = list(range(len(articles)))
    for i in range(len(articles)):
        for j in range(i):
            if articles[i].group == articles[j].group and _jaccard(sets[i], sets[j]) >= SAME_TEXT:
                origin[i] = origin[j]
                break
    return origin


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def shingle_sets(docs: list[Doc], k_word: int, k_char: int) -> list[np.ndarray]:
    return [shingle_hashes(d.tokens, k_char if d.spaceless else k_word) for d in docs]


def signatures(shingles: list[np.ndarray], cfg: Config) -> np.ndarray:
    return np.stack([signature(s, cfg.num_perm) for s in shingles])


def fingerprints(sigs: np.ndarray, cfg: Config) -> list[Fingerprint]:
    """What ``ingest.dedup.fingerprint`` makes, for any configuration."""
    keys = band_keys(sigs, cfg.bands)
    return [Fingerprint(s.astype("<u4").tobytes(), tuple(k.tolist()))
            for s, k in zip(sigs, keys, strict=True)]


def score(sigs: np.ndarray, cfg: Config) -> Scored:
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, doc_keys in enumerate(band_keys(sigs, cfg.bands).tolist()):
        for key in doc_keys:
            buckets[key].append(i)
    pairs = {(a, b) for members in buckets.values() for b in members for a in members if a < b}
    grid = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    similarity = (sigs[grid[:, 0]] == sigs[grid[:, 1]]).mean(axis=1)
    return Scored(grid, similarity)


@dataclass(frozen=True)
class Metrics:
    threshold: float
    found: int
    precision: float
    recall: float  # original-copy pairs, all rates
    recall_low: float  # copies with at most 10 % of words changed
    recall_high: float  # more than 10 %
    false_same_site: int
    false_other: int


def metrics(docs: list[Doc], scored: Scored, threshold: float,
            subset: np.ndarray | None = None) -> Metrics:
    """Precision and recall at ``threshold``; ``subset``: a mask of the documents to count."""
    origin = np.array([d.origin for d in docs])
    group = np.array([d.group for d in docs])
    pairs = scored.pairs[scored.similarity >= threshold]
    if subset is not None:
        pairs = pairs[subset[pairs[:, 0]] & subset[pairs[:, 1]]]
    same = origin[pairs[:, 0]] == origin[pairs[:, 1]]
    same_site = group[pairs[:, 0]] == group[pairs[:, 1]]
    found = {(int(a), int(b)) for a, b in pairs[same]}
    recall = {}
    for name, keep in (("all", lambda r: True), ("low", lambda r: r <= 0.10),
                       ("high", lambda r: r > 0.10)):
        wanted = [(d.source, i) for i, d in enumerate(docs) if d.rate is not None
                  and keep(d.rate) and (subset is None or subset[i])]
        hits = sum(pair in found for pair in wanted)
        recall[name] = hits / len(wanted) if wanted else float("nan")
    return Metrics(threshold, len(pairs), float(same.mean()) if len(pairs) else 1.0,
                   recall["all"], recall["low"], recall["high"],
                   int((~same & same_site).sum()), int((~same & ~same_site).sum()))


def candidate_chance(resemblance: float, cfg: Config) -> float:
    """The chance that two texts of this resemblance share at least one band key."""
    return 1 - (1 - resemblance ** (cfg.num_perm // cfg.bands)) ** cfg.bands


def suggest(rows: list[Metrics], t: dict, cfg: Config) -> float | None:
    """The threshold of ``rows`` that meets both quality targets ``t`` using the smallest
    share of their error budgets, among those at which the bands find CANDIDATE_FLOOR of the
    pairs; None if there is none."""
    def budget(m: Metrics) -> float:
        return max((1 - m.precision) / (1 - t["precision"]), (1 - m.recall_low) / (1 - t["recall"]))
    meeting = [m for m in rows
               if budget(m) <= 1 and candidate_chance(m.threshold, cfg) >= CANDIDATE_FLOOR]
    return min(meeting, key=budget).threshold if meeting else None
