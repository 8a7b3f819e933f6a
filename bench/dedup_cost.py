"""CPU of one fingerprint, per step, on the corpus articles and on unusual inputs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

from ingest.dedup.fingerprint import BANDS, NUM_PERM, fingerprint
from ingest.dedup.minhash import band_keys, signature
from ingest.dedup.shingles import SHINGLE, shingle_hashes, tokens

ROUNDS = 7


def per_item_us(step: Callable, items: Sequence, rounds: int = ROUNDS) -> float:
    """CPU microseconds per item: the median over ``rounds`` passes (after one to warm up)."""
    for item in items:
        step(item)
    passes = []
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            step(item)
        passes.append((time.process_time() - start) / len(items) * 1e6)
    return statistics.median(passes)


def step_rows(texts: Sequence[str]) -> tuple[list[list[str]], float]:
    """CPU per article of each step of ``fingerprint`` and of the whole; the whole in µs."""
    found = [tokens(t) for t in texts]
    shingles = [shingle_hashes(f.hashes, SHINGLE) for f in found]
    sigs = [signature(s, NUM_PERM) for s in shingles]
    whole = per_item_us(lambda t: fingerprint(t, 0), texts)
    rows = [
        ["tokens: fold, classify, hash each token", per_item_us(tokens, texts)],
        [f"shingles: combine {SHINGLE} token hashes",
         per_item_us(lambda f: shingle_hashes(f.hashes, SHINGLE), found)],
        [f"signature: {NUM_PERM} minima", per_item_us(lambda s: signature(s, NUM_PERM), shingles)],
        [f"band keys: {BANDS}", per_item_us(lambda s: tuple(band_keys(s, BANDS).tolist()), sigs)],
        ["fingerprint (all of the above)", whole],
    ]
    return [[name, f"{us:.0f} µs"] for name, us in rows], whole


def input_rows() -> list[list[str]]:
    """CPU of one fingerprint of inputs outside the corpus's range."""
    cases = {
        "1 MB of English words (first 100,000 characters read)": "the council met today " * 48_000,
        "1 MB of one character": "a" * 1_000_000,
        "1 MB of punctuation": ".,;" * 333_334,
        "300 KB of Chinese": "新华社北京电记者从国家卫生健康委获悉" * 16_000,
        "empty text": "",
    }
    return [[name, f"{per_item_us(lambda t: fingerprint(t, 0), [text], rounds=3) / 1e3:.2f} ms"]
            for name, text in cases.items()]
