"""The dedup bench's comparisons: shingle size in words and in characters, signature length
and bands, and the hardest negatives, each as table rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import py3langid

from bench.dedup_eval import (
    THRESHOLDS,
    Config,
    Doc,
    candidate_chance,
    metrics,
    score,
    shingle_sets,
    signatures,
    suggest,
)

Row = list[str]


def k_rows(docs: list[Doc], base: Config, threshold: float, ks: Sequence[int]) -> list[Row]:
    """Per shingle size in words: the exact resemblance of copies (at most 10 % changed) and
    of unrelated articles, how often unrelated articles share a band, and the scores."""
    originals = [i for i, d in enumerate(docs) if d.rate is None and not d.spaceless]
    cross = _cross_site_same_language(docs, originals)
    rows = []
    for k in ks:
        cfg = Config(k, base.k_char, base.num_perm, base.bands)
        shingles = shingle_sets(docs, k, base.k_char)
        scored = score(signatures(shingles, cfg), cfg)
        m = metrics(docs, scored, threshold)
        sets = [set(s.tolist()) for s in shingles]
        copies = [_jaccard(sets[d.source], sets[i]) for i, d in enumerate(docs)
                  if d.rate is not None and d.rate <= 0.10 and not d.spaceless]
        background = [_jaccard(sets[a], sets[b]) for a, b in cross]
        shared = {(int(a), int(b)) for a, b in scored.pairs}
        hits = sum(pair in shared for pair in cross)
        rows.append([str(k), f"{np.median(copies):.2f} / {np.percentile(copies, 5):.2f}",
                     f"{np.mean(background):.4f}", _per_million(hits, len(cross)),
                     f"{m.precision:.4f}", f"{m.recall_low:.3f}", f"{m.recall_high:.3f}"])
    return rows


def char_rows(docs: list[Doc], base: Config, threshold: float, ks: Sequence[int]) -> list[Row]:
    """Per shingle size in characters, on the texts of scripts without spaces only."""
    subset = np.array([d.spaceless for d in docs])
    originals = [i for i, d in enumerate(docs) if d.rate is None and d.spaceless]
    rows = []
    for k in ks:
        cfg = Config(base.k_word, k, base.num_perm, base.bands)
        shingles = shingle_sets(docs, base.k_word, k)
        m = metrics(docs, score(signatures(shingles, cfg), cfg), threshold, subset)
        sets = [set(s.tolist()) for s in shingles]
        unrelated = [_jaccard(sets[a], sets[b]) for a in originals for b in originals
                     if a < b and docs[a].origin != docs[b].origin]
        rows.append([str(k), f"{np.mean(unrelated):.4f} / {max(unrelated):.3f}",
                     f"{m.precision:.4f}", f"{m.recall_low:.3f}", f"{m.recall_high:.3f}"])
    return rows


def band_rows(docs: list[Doc], base: Config, t: dict, shapes: Sequence[tuple[int, int]],
              index_cost: Callable[[Config], str] | None) -> list[Row]:
    """Per (NUM_PERM, BANDS): storage, the chance that a pair is a candidate, the scores at
    the threshold suggested for it, and (``index_cost``) one article's lookup and insert in
    an index of 100k."""
    shingles = shingle_sets(docs, base.k_word, base.k_char)
    rows = []
    for num_perm, bands in shapes:
        cfg = Config(base.k_word, base.k_char, num_perm, bands)
        scored = score(signatures(shingles, cfg), cfg)
        by_threshold = {x: metrics(docs, scored, x) for x in THRESHOLDS}
        best = suggest(list(by_threshold.values()), t, cfg)
        chance = " / ".join(f"{candidate_chance(s, cfg):.2f}" for s in (0.2, 0.3, 0.4))
        head = [f"{num_perm} / {bands}", f"{num_perm * 4} B", str(bands), chance]
        cost = index_cost(cfg) if index_cost else "n/a"
        if best is None:
            rows.append([*head, "none meets the targets", "", "", "", cost])
            continue
        m = by_threshold[best]
        rows.append([*head, str(best), f"{m.precision:.4f}", f"{m.recall_low:.3f}",
                     f"{m.recall_high:.3f}", cost])
    return rows


def hardest_negatives(docs: list[Doc], cfg: Config, count: int) -> list[Row]:
    """The pairs of different stories with the highest estimated similarity."""
    shingles = shingle_sets(docs, cfg.k_word, cfg.k_char)
    scored = score(signatures(shingles, cfg), cfg)
    origin = np.array([d.origin for d in docs])
    negative = origin[scored.pairs[:, 0]] != origin[scored.pairs[:, 1]]
    order = np.argsort(-scored.similarity[negative], kind="stable")[:count]
    rows = []
    for (a, b), sim in zip(scored.pairs[negative][order], scored.similarity[negative][order],
                           strict=True):
        exact = _jaccard(set(shingles[a].tolist()), set(shingles[b].tolist()))
        site = docs[a].group if docs[a].group == docs[b].group else "(two sites)"
        rows.append([f"{sim:.2f}", f"{exact:.2f}", site, docs[a].name, docs[b].name])
    return rows


def _cross_site_same_language(docs: list[Doc], members: list[int]) -> list[tuple[int, int]]:
    language = {i: py3langid.classify(docs[i].text)[0] for i in members}
    return [(a, b) for a in members for b in members
            if a < b and docs[a].group != docs[b].group and language[a] == language[b]]


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _per_million(hits: int, pairs: int) -> str:
    """Unrelated articles in an index of 1M that share a band with a new one; none seen:
    the upper end of the 95 % interval (rule of three)."""
    if not pairs:
        return "n/a"
    if hits == 0:
        return f"< {3 / pairs * 1e6:,.0f} (0 of {pairs:,} pairs)"
    return f"{hits / pairs * 1e6:,.0f} ({hits} of {pairs:,} pairs)"
