"""The PostgreSQL store's footer statistics: per site, how many articles each line was in.

Every replica adds to the same counts: an upsert adding to the stored count
(``count = count + excluded.count``), so concurrent adds all land.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.state.postgres_base import PgBase, text

_ADD = (
    "INSERT INTO footer_lines (site, key, sample, count, updated_at) "
    "SELECT %(site)s, k, s, n, %(now)s "
    "FROM unnest(%(keys)s::text[], %(samples)s::text[], %(counts)s::bigint[]) AS t (k, s, n) "
    "ON CONFLICT (site, key) DO UPDATE SET count = footer_lines.count + excluded.count, "
    "updated_at = excluded.updated_at")


class FooterStats(PgBase):
    def footer_counts(self, site: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        if keys is None:
            return dict(self._read("SELECT key, count FROM footer_lines WHERE site = %s",
                                   (text(site),)))
        wanted = list(set(keys))
        if not wanted:
            return {}
        return dict(self._read(
            "SELECT key, count FROM footer_lines WHERE site = %s AND key = ANY(%s::text[])",
            (text(site), [text(k) for k in wanted])))

    def add_footer_counts(self, site: str, counts: Mapping[str, tuple[int, str]]) -> None:
        rows: dict[str, tuple[int, str]] = {}
        for key, (n, sample) in counts.items():
            key = text(key)  # keys that differ only by a NUL add up as one
            rows[key] = (rows[key][0] + n if key in rows else n, text(sample[:500]))
        if not rows:
            return
        keys = sorted(rows)
        self._write(_ADD, {"site": text(site), "now": self._clock(), "keys": keys,
                           "samples": [rows[k][1] for k in keys],
                           "counts": [rows[k][0] for k in keys]})

    def forget_footer_lines(self, before: float, below: int) -> int:
        return self._write("DELETE FROM footer_lines WHERE count < %s AND updated_at < %s",
                           (below, before), "compaction of")[0]

    def footer_lines(self, site: str | None = None) -> list[tuple[str, str, str, int]]:
        sql = "SELECT site, key, sample, count FROM footer_lines"
        args: tuple = ()
        if site:
            sql += " WHERE site = %s"
            args = (text(site),)
        return self._read(sql + ' ORDER BY site COLLATE "C", count DESC, key COLLATE "C"', args)
