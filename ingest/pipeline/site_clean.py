"""One site's drafts through the footer stage and into their stories.

The footer stage and the fingerprints run on untrusted text, so each text's work is a
worker job under the pool's deadline (`ingest.pipeline.jobs`). A job that fails costs its
draft only (skipped, counted by the job's error kind).

With footer learning, a batch counts its own lines (so a line that recurs in K of its
articles is removed from them already). With near-duplicate detection on, a site's line
counts once per story, not once per article: a site's copies of one story (republished,
updated) share their lede and their closing line, and those are not boilerplate. The
order is then:

1. each text's candidate lines (a job each);
2. each text stripped with the counts stored before this batch, and fingerprinted;
3. stories assigned, in the batch's order (`ingest.pipeline.stories.StoryIndex`);
4. the batch's lines counted once per story (a text of a story that already had a
   similar record from the same site adds nothing: that one counted its lines);
5. a text stripped again only where those counts remove a line the stored ones did not.

The fingerprint is of the text as step 2 leaves it: built-in rules and lines learned
before this batch are out of it, so footers make copies look neither alike nor apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.config.model import DedupConfig
from ingest.dedup.fingerprint import Fingerprint
from ingest.errors import WorkerError
from ingest.models import Cleaned
from ingest.pipeline import jobs
from ingest.pipeline.poll import Draft, Poll
from ingest.pipeline.stories import Assignment, StoryIndex
from ingest.state.store import Store
from ingest.workers.pool import WorkerPool


@dataclass
class Cleaning:
    """What the footer stage and the story index made of one draft."""

    draft: Draft
    cleaned: Cleaned
    story: Assignment | None = None  # None: near-duplicate detection is off


class SiteCleaner:
    def __init__(self, dedup: DedupConfig, store: Store, workers: WorkerPool,
                 stories: StoryIndex) -> None:
        self._dedup = dedup
        self._store = store
        self._workers = workers
        self._stories = stories

    async def clean(self, poll: Poll, site: str, group: list[Draft], rules
                    ) -> tuple[list[Cleaning], dict]:
        """The drafts the stage kept, cleaned (and assigned to stories), in order; and the
        batch's line counts to add for learning."""
        from ingest.footers import strip as footers  # see BatchWriter._rules

        if not rules.learn:
            return await self._first_pass(poll, site, group, [{}] * len(group), rules), {}
        keys = await asyncio.gather(*(self._job(poll, d, jobs.footer_keys, d.text)
                                      for d in group))
        wanted = set().union(*(k[1] for k in keys if k is not None))
        stored = self._store.footer_counts(site, wanted)
        kept = [(d, k) for d, k in zip(group, keys, strict=True) if k is not None]
        if not self._dedup.enabled:
            batch = footers.count_candidates(k[0] for _, k in kept)
            merged = footers.merge_counts(stored, batch)
            done = await self._first_pass(poll, site, [d for d, _ in kept],
                                          [_own(merged, k[1]) for _, k in kept], rules)
            return done, batch
        done = await self._first_pass(poll, site, [d for d, _ in kept],
                                      [_own(stored, k[1]) for _, k in kept], rules)
        by_id = {d.id: k for d, k in kept}
        batch = footers.count_candidates(_per_story(done, by_id))
        merged = footers.merge_counts(stored, batch)
        await self._strip_again(poll, site, done, by_id, stored, merged, rules)
        return [c for c in done if c.cleaned is not None], batch

    async def _first_pass(self, poll: Poll, site: str, group: Sequence[Draft],
                          learned: Sequence[Mapping[str, int]], rules) -> list[Cleaning]:
        dedup = self._dedup.enabled
        func = jobs.clean_and_fingerprint if dedup else jobs.strip_footers
        extra = (self._dedup.min_words,) if dedup else ()
        results = await asyncio.gather(*(
            self._job(poll, d, func, d.text, counts, rules, site, poll.parsed.rights, *extra)
            for d, counts in zip(group, learned, strict=True)))
        done = []
        for d, result in zip(group, results, strict=True):
            if result is None:
                continue
            if not dedup:
                done.append(Cleaning(d, result))
                continue
            cleaned, fp = result
            done.append(Cleaning(d, cleaned, self._assign(poll, site, d, fp)))
        return done

    def _assign(self, poll: Poll, site: str, draft: Draft, fp: Fingerprint | None) -> Assignment:
        article = draft.article
        return self._stories.assign(
            draft.id, fp, site=site,
            title=draft.entry.title or (article.title if article else None),
            published=draft.entry.published or (article.published if article else None))

    async def _strip_again(self, poll: Poll, site: str, done: list[Cleaning],
                           by_id: Mapping[str, tuple], stored: Mapping[str, int],
                           merged: Mapping[str, int], rules) -> None:
        """Strip again the texts where this batch's counts remove a line the stored ones
        kept; a job that fails drops its draft (``cleaned`` None) and its story."""
        k = rules.min_count
        again = [c for c in done
                 if any(stored.get(key, 0) < k <= merged.get(key, 0) for key in by_id[c.draft.id][1])]
        results = await asyncio.gather(*(
            self._job(poll, c.draft, jobs.strip_footers, c.draft.text,
                      _own(merged, by_id[c.draft.id][1]), rules, site, poll.parsed.rights)
            for c in again))
        for c, result in zip(again, results, strict=True):
            c.cleaned = result
            if result is None:
                self._stories.drop([c.draft.id])

    async def _job(self, poll: Poll, draft: Draft, func, *args):
        """``func(*args)`` in a worker; None when it failed, and ``draft`` is skipped."""
        try:
            return await self._workers.run(func, *args)
        except WorkerError as exc:
            poll.skip(draft, exc.kind, str(exc))
            return None


def _own(counts: Mapping[str, int], keys) -> dict[str, int]:
    """The counts of one text's own learnable lines: all its strip job needs."""
    return {key: counts[key] for key in keys if key in counts}


def _per_story(done: list[Cleaning], keys: Mapping[str, tuple]) -> list[dict[str, str]]:
    """The candidate lines to count, one set per story: the texts of a story that this site
    had not brought before (the union of their lines)."""
    stories: dict[str, dict[str, str]] = {}
    for c in done:
        if c.story is not None and c.story.seen_on_site:
            continue
        story = c.story.story_id if c.story else c.draft.id
        stories.setdefault(story, {}).update(keys[c.draft.id][0])
    return list(stories.values())
