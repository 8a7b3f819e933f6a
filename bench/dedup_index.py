"""The near-duplicate index in SQLite, grown to 10k, 100k and 1M signatures: what one
article's lookup and insert cost at each size.

A standalone database with the state store's layout and statements (ingest/state/
sqlite_schema.py and sqlite_stories.py: ``stories`` with an integer id, ``story_bands``
keyed (band, id) WITHOUT ROWID, WAL, synchronous=NORMAL, SQLite's default page cache). The
filler signatures are random, so they share band keys only by chance; the measured
articles are the labelled set's copies, looked up in an index that also holds their
originals, so their lookups find real candidates, and each candidate's similarity is
computed as the pipeline does. Inserts go in batches of BATCH, one transaction each, like a
site's batch, and are taken out again before the next round.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np

from ingest.dedup.fingerprint import Fingerprint, similarity
from ingest.dedup.minhash import band_keys

BATCH = 20
ROUNDS = 3
_FILL_CHUNK = 20_000  # signatures whose band rows go in one executemany
_SCHEMA = """
CREATE TABLE stories (
    id INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE, story_id TEXT NOT NULL,
    signature BLOB NOT NULL, bands BLOB NOT NULL, site TEXT NOT NULL, title TEXT,
    published TEXT, indexed_at REAL NOT NULL);
CREATE INDEX stories_story ON stories (story_id);
CREATE INDEX stories_indexed ON stories (indexed_at);
CREATE TABLE story_bands (band INTEGER NOT NULL, id INTEGER NOT NULL,
                          PRIMARY KEY (band, id)) WITHOUT ROWID;
"""
_COLUMNS = "record_id, story_id, signature, site, title, published, indexed_at"
_INSERT_STORY = (f"INSERT OR IGNORE INTO stories ({_COLUMNS}, bands) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_BANDS = ("INSERT OR IGNORE INTO story_bands (band, id) "
                 "SELECT ?, id FROM stories WHERE record_id = ? AND bands = ?")


@dataclass(frozen=True)
class IndexCost:
    size: int  # signatures in the index when measured
    lookup_ms: float  # CPU per article: query, rows read, similarity of every candidate
    insert_ms: float  # CPU per article, batches of BATCH in one transaction
    lookup_wall_ms: float
    candidates: float  # per lookup
    db_mb: float


class Index:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.path = path
        self.size = 0

    def fill(self, count: int, seed: int, num_perm: int, bands: int) -> None:
        """``count`` more random signatures, inserted in bulk on a connection of its own
        (a large cache, no syncing), band rows in key order."""
        rng = np.random.default_rng(seed)
        first = self.size + 1
        sigs = rng.integers(0, 2**32, (count, num_perm), dtype=np.uint64).astype("<u4")
        keys = band_keys(sigs, bands)
        bulk = sqlite3.connect(self.path, isolation_level=None)
        bulk.execute("PRAGMA cache_size=-1000000")
        bulk.execute("PRAGMA synchronous=OFF")
        bulk.execute("BEGIN")
        bulk.executemany(
            f"INSERT INTO stories (id, {_COLUMNS}, bands) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((first + i, f"filler{first + i:026x}", f"filler{first + i:026x}", sig.tobytes(),
              "site", None, None, time.time(), row.tobytes()) for i, (sig, row) in
             enumerate(zip(sigs, keys, strict=True))))
        flat, ids = keys.ravel(), np.repeat(np.arange(first, first + count), bands)
        order = np.argsort(flat, kind="stable")
        for start in range(0, order.size, _FILL_CHUNK * bands):
            part = order[start:start + _FILL_CHUNK * bands]
            bulk.executemany("INSERT INTO story_bands (band, id) VALUES (?, ?)",
                             zip(flat[part].tolist(), ids[part].tolist(), strict=True))
        bulk.execute("COMMIT")
        bulk.close()
        self.size += count

    def add(self, fps: Sequence[Fingerprint]) -> None:
        """One transaction, the store's statements."""
        rows: list[tuple] = []
        bands: list[tuple] = []
        for fp in fps:
            record = f"article{self.size + 1:026x}"
            packed = np.array(fp.bands, dtype="<i8").tobytes()
            rows.append((record, record, fp.signature, "site", None, None, time.time(), packed))
            bands.extend((band, record, packed) for band in fp.bands)
            self.size += 1
        self.db.execute("BEGIN")
        self.db.executemany(_INSERT_STORY, rows)
        self.db.executemany(_INSERT_BANDS, bands)
        self.db.execute("COMMIT")

    def lookup(self, fp: Fingerprint, since: float) -> list[tuple[float, str]]:
        """The candidates and their similarity, as the store and the pipeline find them."""
        keys = sorted(set(fp.bands))
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM stories WHERE id IN (SELECT id FROM story_bands "
            f"WHERE band IN ({','.join('?' * len(keys))})) AND indexed_at >= ?",
            [*keys, since]).fetchall()
        return [(similarity(fp.signature, bytes(row[2])), row[0]) for row in rows]

    def forget_after(self, size: int) -> None:
        """Drop the records added after the index had ``size`` of them."""
        rows = self.db.execute("SELECT id, bands FROM stories WHERE id > ?", (size,)).fetchall()
        self.db.execute("BEGIN")
        self.db.executemany("DELETE FROM story_bands WHERE band = ? AND id = ?",
                            [(int(band), rowid) for rowid, packed in rows
                             for band in np.frombuffer(packed, dtype="<i8")])
        self.db.execute("DELETE FROM stories WHERE id > ?", (size,))
        self.db.execute("COMMIT")
        self.size = size

    def megabytes(self) -> float:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size / 1e6

    def close(self) -> None:
        self.db.close()


def measure(index: Index, originals: Sequence[Fingerprint], copies: Sequence[Fingerprint],
            sizes: Sequence[int], progress: Callable[[str], None]) -> list[IndexCost]:
    """Grow ``index`` to each size (the originals first), then look up and insert the
    copies, ROUNDS slices of them, each taken out again after its round."""
    num_perm, bands = len(copies[0].signature) // 4, len(copies[0].bands)
    index.add(originals)
    found = []
    for size in sizes:
        if size > index.size:
            progress(f"dedup: filling the index to {size:,} signatures")
            index.fill(size - index.size, size, num_perm, bands)
        found.append(_measure_at(index, copies))
    return found


def _measure_at(index: Index, copies: Sequence[Fingerprint]) -> IndexCost:
    """Medians over ROUNDS of: a slice of the copies looked up, then inserted (and taken
    out). Each round has copies of its own: one already looked up or inserted would find
    its pages in the cache."""
    size, n = index.size, len(copies) // ROUNDS
    lookups, walls, inserts, candidates = [], [], [], 0
    for r in range(ROUNDS):
        part = copies[r * n:(r + 1) * n]
        cpu, wall = time.process_time(), time.perf_counter()
        for fp in part:
            candidates += len(index.lookup(fp, since=0.0))
        lookups.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        cpu = time.process_time()
        for start in range(0, n, BATCH):
            index.add(part[start:start + BATCH])
        inserts.append(time.process_time() - cpu)
        index.forget_after(size)
    return IndexCost(size, median(lookups) / n * 1e3, median(inserts) / n * 1e3,
                     median(walls) / n * 1e3, candidates / (n * ROUNDS), index.megabytes())
