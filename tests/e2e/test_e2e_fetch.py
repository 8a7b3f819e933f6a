"""`ingest fetch` end to end: the installed CLI in a subprocess against a news site on 127.0.0.1."""

from __future__ import annotations

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import Item, ansa_page, atom, italian_fundus_pages, rdf, read_records, rss, write_config

pytestmark = pytest.mark.timeout(240)

FOOTER = "Riproduzione riservata © Copyright ANSA"
HTML = {"Content-Type": "text/html; charset=utf-8"}
LONG_FEED_TEXT = ("<p>" + "Il testo completo della notizia è nel feed stesso. " * 8 + "</p>"
                  "<p>Secondo paragrafo del testo pubblicato nel feed.</p>")


@pytest.fixture
def site(corpus, tmp_path):
    """Feeds in RSS (UTF-8 and ISO-8859-1), Atom and RDF over the corpus pages."""
    server = FaultServer().start()
    pages = italian_fundus_pages(corpus)
    assert len(pages) >= 4
    for page in pages:
        server.add(f"/it/{page.name}.html", page.html, HTML)
    seed = (corpus / "seed-ansa-article.txt").read_text(encoding="utf-8")
    server.add("/ansa/umerov.html", ansa_page(seed), HTML)
    u = server.url
    by_name = {p.name: p for p in pages}
    corriere, giornale, repubblica, tz = (by_name[n] for n in (
        "CorriereDellaSera", "IlGiornale", "LaRepubblica", "Tageszeitung"))

    feed_a = [Item("Umerov a Bruxelles", u("/ansa/umerov.html") + "?utm_source=rss#top", "a1"),
              Item("Meloni da Trump", u("/it/CorriereDellaSera.html") + "?utm_medium=feed", "a2"),
              Item("Artico", u("/it/IlGiornale.html"), "a3")]
    feed_b = [Item("Meloni da Trump a Mar-a-Lago", u("/it/CorriereDellaSera.html"), "b1"),
              Item("Striscione", u("/it/LaRepubblica.html"), "b2")]
    feed_c = [Item("Città: la Gesundheit è più", u("/it/Tageszeitung.html"), "c1"),
              Item("Solo nel feed", u("/gone/1.html"), "c2", content=LONG_FEED_TEXT),
              Item("Pagina sparita", u("/gone/2.html"), "c3", summary="breve")]
    server.add("/feeds/a.xml", rss(feed_a), {"Content-Type": "application/rss+xml; charset=utf-8"})
    server.add("/feeds/b.xml", atom(feed_b), {"Content-Type": "application/atom+xml"})
    server.add("/feeds/c.xml", rss(feed_c, encoding="iso-8859-1"),
               {"Content-Type": "application/rss+xml; charset=iso-8859-1"})
    server.add("/feeds/d.xml", rdf([Item("Striscione (RDF)", u("/it/LaRepubblica.html?fbclid=x"))]),
               {"Content-Type": "application/rdf+xml"})
    config = write_config(tmp_path / "config.yaml", [
        ("ansa.it", u("/feeds/a.xml")), ("atom_feed", u("/feeds/b.xml")),
        ("latin-1", u("/feeds/c.xml")), ("rdf", u("/feeds/d.xml"))])
    yield server, config, {"seed": seed, "corriere": corriere, "giornale": giornale,
                           "repubblica": repubblica, "tz": tz, "feed_a": feed_a}
    server.close()


def page_hits(server) -> int:
    return sum(1 for _, path, _ in server.requests if not path.startswith("/feeds/"))


def test_fetch_end_to_end(site, tmp_path):
    server, config, known = site
    first = run_cli("fetch", "--config", str(config))
    assert first.returncode == 0, first.stderr
    records = read_records(tmp_path / "out")

    # Every article once: the Corriere story is in two feeds, with and without tracking
    # parameters, and La Repubblica's in Atom and RDF.
    urls = sorted(r["url"] for r in records)
    assert len(urls) == len(set(urls)) == len({r["id"] for r in records}) == 6
    by_url = {r["url"]: r for r in records}
    seed_rec = by_url[server.url("/ansa/umerov.html")]

    # The footer is gone, recorded, and kept as attribution; the text is the article's.
    expected = known["seed"].strip().split("\n")[:-1]
    assert seed_rec["text"].split("\n") == expected
    assert FOOTER not in seed_rec["text"]
    assert seed_rec["footers_removed"] == [FOOTER]
    assert seed_rec["rights"] == FOOTER
    assert seed_rec["body_source"] == "page" and seed_rec["language"] == "it"

    for key in ("corriere", "giornale", "repubblica", "tz"):
        page = known[key]
        rec = next(r for r in records if r["url"].endswith(f"/it/{page.name}.html"))
        missing = [p for p in page.paragraphs if p not in rec["text"]]
        assert len(missing) <= len(page.paragraphs) // 10, (page.name, missing[:2])

    # ISO-8859-1 feed decoded; page gone with long feed content → feed text; else skipped.
    tz = next(r for r in records if r["url"].endswith("/it/Tageszeitung.html"))
    assert tz["title"] == "Città: la Gesundheit è più"
    fallback = by_url[server.url("/gone/1.html")]
    assert fallback["body_source"] == "feed" and "nel feed stesso" in fallback["text"]
    assert server.url("/gone/2.html") not in by_url
    assert "1 http_404" in first.stderr and "6 written" in first.stderr

    for rec in records:
        for key in ("id", "url", "feed", "feed_url", "guid", "title", "published", "fetched_at",
                    "text", "body_source", "schema_version"):
            assert key in rec
        assert rec["text"] and rec["title"] and "utm_" not in rec["url"]

    # Second run: nothing new, so no page is requested and nothing is written.
    pages_before = page_hits(server)
    second = run_cli("fetch", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert page_hits(server) == pages_before
    assert len(read_records(tmp_path / "out")) == 6

    # Third run: one new item is the only new line.
    server.add("/ansa/new.html", known["giornale"].html.replace(b"Artico", b"Antartide"), HTML)
    server.add("/feeds/a.xml", rss(known["feed_a"] + [
        Item("Nuovo", server.url("/ansa/new.html"), "a4")]),
        {"Content-Type": "application/rss+xml; charset=utf-8"})
    third = run_cli("fetch", "--config", str(config))
    assert third.returncode == 0, third.stderr
    after = read_records(tmp_path / "out")
    assert len(after) == 7 and after[-1]["url"] == server.url("/ansa/new.html")
    assert page_hits(server) == pages_before + 1


def test_failed_feed_is_named_and_exit_status_is_one(site, tmp_path):
    server, config, _ = site
    broken = write_config(tmp_path / "broken.yaml", [
        ("good", server.url("/feeds/d.xml")), ("down", server.url("/status/500")),
        ("html", server.url("/it/LaRepubblica.html"))])
    proc = run_cli("fetch", "--config", str(broken))
    assert proc.returncode == 1
    assert "FAILED down" in proc.stderr and "500" in proc.stderr
    assert "FAILED html" in proc.stderr and "not a feed" in proc.stderr
    assert [r["feed"] for r in read_records(tmp_path / "out")] == ["good"]


def test_feed_option_and_unknown_feed(site, tmp_path):
    _, config, _ = site
    proc = run_cli("fetch", "--config", str(config), "--feed", "rdf")
    assert proc.returncode == 0, proc.stderr
    assert {r["feed"] for r in read_records(tmp_path / "out")} == {"rdf"}
    proc = run_cli("fetch", "--config", str(config), "--feed", "nope")
    assert proc.returncode == 2 and "no feed named 'nope'" in proc.stderr
