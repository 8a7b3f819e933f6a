"""What a sitemap source remembers between polls, in ``FeedState.extra["sitemaps"]``: the
sitemaps its configured index listed (and the sitemaps those list), with their validators.

    {"root": <the configured sitemap's body hash>,
     "roots": [<its URL and final URL, normalised>],
     "files": [{"url", "parent", "depth", "lastmod", "etag", "last_modified", "hash"}, ...]}

``parent`` is the normalised URL of the index that listed the file (None: the configured
one). ``files`` keeps the walk's order (an index's sitemaps newest first, level by level),
so that a walk rebuilt from it asks them in the same order; it is a list because not every
store keeps the key order of a JSON object.

The memory serves two ends: the validators of each listed sitemap (a conditional request,
and no parse for the same bytes), and the listing of an index that did not change (a 304,
or the same bytes), whose sitemaps may have changed all the same. It is trusted only when
``root`` is the feed's kept body hash, so a poll that read a changed index and deferred
entries keeps neither: the next poll reads everything again. A poll that found the index
unchanged and deferred leaves the memory as it was: the next one asks the same sitemaps
with the validators from before, and reads the deferred URLs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.extract.sitemap import SitemapChild
from ingest.models import FeedState
from ingest.urls import normalize_url

VALIDATORS = ("etag", "last_modified", "hash")


@dataclass
class Memory:
    """The remembered files by normalised URL, in the walk's order."""

    files: dict[str, dict] = field(default_factory=dict)
    roots: tuple[str, ...] = ()  # the configured sitemap's URLs (as asked, after redirects)

    def validators(self, key: str) -> dict:
        """The validators kept for the sitemap ``key`` ({} if none)."""
        known = self.files.get(key, {})
        return {name: known[name] for name in VALIDATORS if known.get(name) is not None}

    def listed_by(self, parent: str | None) -> list[SitemapChild]:
        """The sitemaps ``parent`` (None: the configured index) listed, in the walk's order."""
        return [SitemapChild(f["url"], f.get("lastmod")) for f in self.files.values()
                if f.get("parent") == parent]


def recall(state: FeedState) -> Memory:
    """The memory of the last poll, if that poll deferred nothing (empty otherwise)."""
    saved = state.extra.get("sitemaps")
    if not isinstance(saved, dict) or saved.get("root") != state.body_hash:
        return Memory()
    files = saved.get("files")
    if not isinstance(files, list):
        return Memory()
    roots = saved.get("roots")
    return Memory({f["key"]: f for f in (_entry(item) for item in files) if f is not None},
                  tuple(r for r in roots if isinstance(r, str)) if isinstance(roots, list) else ())


def _entry(item: object) -> dict | None:
    """One stored file, checked (the state is ours, but may come from another version)."""
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        return None
    lastmod = item.get("lastmod")
    return {**item, "key": normalize_url(item["url"]),
            "lastmod": lastmod if isinstance(lastmod, int | float) else None}


def remember(state: FeedState, root: str, roots: list[str], taken: list[dict],
             visited: dict[str, dict], known: Memory, cap: int) -> None:
    """Store the walk's memory: each sitemap ``taken`` (listed and queued, in order) with the
    validators it got this poll (``visited``) or kept from before; then the remembered files
    below a taken sitemap the walk did not reach, so that limits cost no validators. A file
    whose index was read and no longer lists it is dropped. At most ``cap`` files."""
    files: dict[str, dict] = {}
    for item in taken:
        key = item["key"]
        got = visited[key] if key in visited else known.validators(key)
        files.setdefault(key, {**item, **got})
    unread = {key for key in files if key not in visited}
    for key, item in known.files.items():  # in the walk's order: parents before children
        if item.get("parent") in unread and key not in files:
            files[key] = item
            unread.add(key)
    stored = [{k: v for k, v in item.items() if k != "key" and v is not None}
              for item in list(files.values())[:cap]]
    state.extra["sitemaps"] = {"root": root, "roots": roots, "files": stored}
