"""``extract.feed_content`` end to end: two runs of the installed `ingest fetch` against a site
on 127.0.0.1 whose server logs every page request. A full-text feed is sampled on its pages
in the first run and read from the feed in the second; a teaser feed, a feed whose text is
not its pages', and a feed set to ``never`` keep fetching pages; a feed set to ``always``
never does."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import Item, plain_page, read_records, rss, write_config

pytestmark = pytest.mark.timeout(120)

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
SENTENCE = ("Questa è la notizia numero {n}, scritta per le prove di ingest: una frase abbastanza "
            "lunga perché l'estrazione la riconosca come testo. ")
OTHER = "Parole che la pagina non contiene, ripetute per fare un testo lungo. " * 8


def whole(n: int) -> str:
    """The body of `plain_page(..., n)` as a full-text feed carries it."""
    return "".join(f"<p>{SENTENCE.format(n=n) * 3}Paragrafo {j}.</p>" for j in range(4))


CONTENT = {  # feed name → the content:encoded of its item n
    "full": whole,
    "teaser": lambda n: f"<p>{SENTENCE.format(n=n)}</p><p>Continua a leggere →</p>",
    "other": lambda n: "".join(f"<p>{OTHER}</p>" for _ in range(4)),
    "never": whole,
    "always": lambda n: f"<p>{SENTENCE.format(n=n)}</p>",
}
MODES = {"never": "never", "always": "always"}  # the feeds' own feed_content; others: auto


def publish(server: FaultServer, items: int) -> None:
    """Each feed with ``items`` items, their pages at /<feed>/<n>.html."""
    for f, (name, content) in enumerate(CONTENT.items()):
        entries = []
        for n in range(items):
            number = 100 * f + n
            path = f"/{name}/{n}.html"
            server.add(path, plain_page(f"Notizia {number}", number), HTML)
            entries.append(Item(f"Notizia {number}", server.url(path), f"{name}-{n}",
                                summary="Breve.", content=content(number)))
        server.add(f"/{name}.xml", rss(entries), RSS)


def pages_asked(server: FaultServer, name: str) -> set[str]:
    return {path for _, path, _ in server.requests if path.startswith(f"/{name}/")}


def test_feed_content_modes_end_to_end(tmp_path):
    with FaultServer() as server:
        publish(server, 3)
        config = write_config(tmp_path / "config.yaml",
                              [(name, server.url(f"/{name}.xml")) for name in CONTENT])
        cfg = json.loads(config.read_text())
        for feed in cfg["feeds"]:
            if feed["name"] in MODES:
                feed["feed_content"] = MODES[feed["name"]]
        config.write_text(json.dumps(cfg))

        first = run_cli("fetch", "--config", str(config), "-v")
        assert first.returncode == 0, first.stderr
        trusted = [line for line in first.stderr.splitlines()
                   if "the feed's own text now stands in for its pages" in line]
        assert len(trusted) == 1 and "pipeline: full: " in trusted[0], first.stderr
        publish(server, 6)  # three new items in every feed
        second = run_cli("fetch", "--config", str(config))
        assert second.returncode == 0, second.stderr

        # The full-text feed: its first three pages were the sample, the next three were
        # never asked for; "always" never asked for any; the others asked for every page.
        assert pages_asked(server, "full") == {f"/full/{n}.html" for n in range(3)}
        assert pages_asked(server, "always") == set()
        for name in ("teaser", "other", "never"):
            assert pages_asked(server, name) == {f"/{name}/{n}.html" for n in range(6)}, name
        # saved: the "always" feed's three each run, and the full-text feed's in the second
        assert "page requests: 12 (3 saved: the feed carried the article)" in first.stderr
        assert "page requests: 9 (6 saved: the feed carried the article)" in second.stderr

    records = read_records(tmp_path / "out")
    assert len(records) == 30
    source = {r["guid"]: r["body_source"] for r in records}
    for name in CONTENT:
        expected = (["page"] * 3 + ["feed"] * 3 if name == "full" else
                    ["feed"] * 6 if name == "always" else ["page"] * 6)
        assert [source[f"{name}-{n}"] for n in range(6)] == expected, name
    taken = next(r for r in records if r["guid"] == "full-4")
    assert taken["text"].startswith("Questa è la notizia numero 4, scritta")
    assert taken["language"] == "it"
