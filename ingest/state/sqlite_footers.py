"""The SQLite store's footer statistics: per site, how many articles each line was in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.state.sqlite_base import SqliteBase, chunks


class FooterStats(SqliteBase):
    def footer_counts(self, site: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        if keys is None:
            return dict(self._read("SELECT key, count FROM footer_lines WHERE site = ?",
                                   (site,)))
        counts: dict[str, int] = {}
        for chunk in chunks(list(set(keys)), 500):
            counts.update(self._read(
                "SELECT key, count FROM footer_lines WHERE site = ? AND key IN "
                f"({','.join('?' * len(chunk))})", [site, *chunk]))
        return counts

    def add_footer_counts(self, site: str, counts: Mapping[str, tuple[int, str]]) -> None:
        now = self._clock()
        self._write([(
            "INSERT INTO footer_lines (site, key, sample, count, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, key) DO UPDATE SET "
            "count = count + excluded.count, updated_at = excluded.updated_at",
            [(site, k, sample[:500], n, now) for k, (n, sample) in counts.items()])])

    def forget_footer_lines(self, before: float, below: int) -> int:
        return self._compact(
            "DELETE FROM footer_lines WHERE count < ? AND updated_at < ?", (below, before))

    def footer_lines(self, site: str | None = None) -> list[tuple[str, str, str, int]]:
        sql = "SELECT site, key, sample, count FROM footer_lines"
        args: tuple = ()
        if site:
            sql += " WHERE site = ?"
            args = (site,)
        return self._read(sql + " ORDER BY site, count DESC, key", args)
