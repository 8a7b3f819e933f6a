"""Sitemaps as sources, end to end: `ingest fetch` in a subprocess against sitemaps and pages
served on 127.0.0.1 by the fault server (whose request log is the proof of what was fetched).

  news index    a sitemap index (listing itself) with a news sitemap and a gzipped index
                (application/x-gzip, listing the first index back and a plain sitemap):
                records from the news tags, the window and undated URLs honoured, each file
                fetched once with a warning naming the loop; a second run, where only the
                news sitemap changed (the index answers 304), still asks every listed
                sitemap with If-None-Match and takes the new article
  one run of    a `type: feed` URL serving a sitemap (read as one), a `type: sitemap` serving
  odd sources   HTML (a clear error), a gzip that inflates past max_bytes (refused), an index
                past max_sitemaps and max_depth (request log), XXE and billion laughs in a
                sitemap (parsed without expansion, nothing fetched, nothing leaked)
"""

from __future__ import annotations

import gzip
import json
import secrets
import time

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer, gzip_bomb
from helpers.newssite import read_records, write_config

pytestmark = pytest.mark.timeout(120)
HOUR = 3600.0
XML = {"Content-Type": "application/xml"}
GZIP = {"Content-Type": "application/x-gzip"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
NS = ('xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
      'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"')


def stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def bare_page(n: int, title: str = "") -> bytes:
    """An article with no date, language or keywords (and a title only if given)."""
    sentence = (f"Questa è la notizia numero {n}, scritta per le prove delle mappe del sito: "
                "una frase abbastanza lunga perché l'estrazione la riconosca come testo. ")
    head = f"<head><title>{title}</title></head>" if title else ""
    paragraphs = "".join(f"<p>{sentence * 3}Paragrafo {j} della notizia {n}.</p>"
                         for j in range(4))
    return f"<html>{head}<body><article>{paragraphs}</article></body></html>".encode()


def news(url: str, ago: float, title: str, keywords: str = "cronaca, Milano",
         language: str = "it-CH") -> str:
    return (f"<url><loc>{url}</loc><news:news><news:publication><news:name>Il Sito"
            f"</news:name><news:language>{language}</news:language></news:publication>"
            f"<news:publication_date>{stamp(ago)}</news:publication_date>"
            f"<news:title>{title}</news:title><news:keywords>{keywords}</news:keywords>"
            "</news:news></url>")


def urlset(*urls: str, prolog: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}<urlset {NS}>{"".join(urls)}</urlset>'.encode()


def index(*urls: str, ago: float = HOUR) -> bytes:
    return (f'<?xml version="1.0"?><sitemapindex {NS}>'
            + "".join(f"<sitemap><loc>{u}</loc><lastmod>{stamp(ago)}</lastmod></sitemap>"
                      for u in urls) + "</sitemapindex>").encode()


def sitemap_config(tmp_path, feeds: list[tuple[str, str, str]], **sections):
    """write_config's config, each feed with its ``type``."""
    path = write_config(tmp_path / "config.yaml", [(n, u) for n, u, _ in feeds],
                        extract={"workers": 1}, **sections)
    cfg = json.loads(path.read_text())
    for feed, (_, _, kind) in zip(cfg["feeds"], feeds, strict=True):
        feed["type"] = kind
    path.write_text(json.dumps(cfg))
    return path


def test_a_news_sitemap_index_with_gzip_children_and_a_loop(tmp_path):
    with FaultServer() as server:
        u = server.url
        for n in (1, 2):
            server.add(f"/news/{n}.html", bare_page(n), HTML)
        server.add("/plain/1.html", bare_page(3, "Titolo della pagina"), HTML)
        server.add("/index.xml", index(u("/index.xml"), u("/news.xml"), u("/more.xml.gz")),
                   {**XML, "ETag": '"i1"'})
        server.add("/news.xml", urlset(
            news(u("/news/1.html"), HOUR, "Primo titolo"),
            news(u("/news/2.html"), 30 * HOUR, "Secondo titolo", "sport"),
            news(u("/news/old.html"), 3 * 24 * HOUR, "Vecchio"),  # outside the 2-day window
            f"<url><loc>{u('/news/undated.html')}</loc></url>"), {**XML, "ETag": '"n1"'})
        server.add("/more.xml.gz", gzip.compress(index(u("/index.xml"), u("/plain.xml"))),
                   {**GZIP, "ETag": '"g1"'})
        server.add("/plain.xml", urlset(
            f"<url><loc>{u('/plain/1.html')}</loc><lastmod>{stamp(HOUR)}</lastmod></url>",
            f"<url><loc>{u('/plain/old.html')}</loc><lastmod>2020-01-01</lastmod></url>"),
            {**XML, "ETag": '"p1"'})
        config = sitemap_config(tmp_path, [("site", u("/index.xml"), "sitemap")])

        first = run_cli("fetch", "--config", str(config))
        assert first.returncode == 0, first.stderr
        records = {r["url"]: r for r in read_records(tmp_path / "out")}
        assert set(records) == {u("/news/1.html"), u("/news/2.html"), u("/plain/1.html")}
        one = records[u("/news/1.html")]
        assert (one["title"], one["language"], one["tags"]) == ("Primo titolo", "it-CH",
                                                                 ["cronaca", "Milano"])
        assert one["published"] == stamp(HOUR)[:14] + one["published"][14:]  # same hour
        assert one["published"].endswith("Z") and one["guid"] is None
        assert records[u("/plain/1.html")]["title"] == "Titolo della pagina"  # the page's
        for path in ("/index.xml", "/news.xml", "/more.xml.gz", "/plain.xml"):
            assert server.hits(path) == 1, path
        for path in ("/news/old.html", "/news/undated.html", "/plain/old.html"):
            assert server.hits(path) == 0, path
        assert "sitemap loop" in first.stderr
        assert f"{u('/more.xml.gz')} lists {u('/index.xml')}" in first.stderr

        # Only the news sitemap changes, not the index (304) nor the gzipped index (304):
        # every listed sitemap is still asked, conditionally, and the new article taken.
        server.add("/news/3.html", bare_page(4), HTML)
        server.add("/news.xml", urlset(news(u("/news/1.html"), HOUR, "Primo titolo"),
                                       news(u("/news/3.html"), 60, "Terzo titolo")),
                   {**XML, "ETag": '"n2"'})
        before = len(server.requests)
        second = run_cli("fetch", "--config", str(config))
        assert second.returncode == 0, second.stderr
        asked = [(path, headers.get("if-none-match"))
                 for _, path, headers in server.requests[before:] if ".xml" in path]
        assert asked == [("/index.xml", '"i1"'), ("/news.xml", '"n1"'),
                         ("/more.xml.gz", '"g1"'), ("/plain.xml", '"p1"')]  # each once
        assert server.hits("/news/3.html") == 1 and server.hits("/news/1.html") == 1
        assert [r["title"] for r in read_records(tmp_path / "out")][3:] == ["Terzo titolo"]


def test_detection_errors_limits_and_xml_attacks_in_one_run(tmp_path):
    canary = f"canary-{secrets.token_hex(8)}"
    secret = tmp_path / "secret.txt"
    secret.write_text(canary)
    with FaultServer() as server:
        u = server.url
        server.add("/a/1.html", bare_page(1), HTML)
        server.add("/x/1.html", bare_page(2), HTML)
        # a feed URL that answers with a (gzipped) news sitemap
        server.add("/feed.xml", gzip.compress(urlset(news(u("/a/1.html"), HOUR, "Rilevato"))),
                   GZIP)
        server.add("/home.html", b"<!DOCTYPE html><html><body>Home</body></html>", HTML)
        server.add("/bomb.xml.gz", gzip_bomb(mib=4), GZIP)
        # past the limits: max_sitemaps 3 fetches the index and two children; max_depth 1
        # reads /deep.xml (an index) but not what it lists
        server.add("/big-index.xml", index(*(u(f"/s/{n}.xml") for n in range(4)), ago=HOUR))
        server.add("/s/0.xml", index(u("/deeper.xml")))
        for n in range(1, 4):
            server.add(f"/s/{n}.xml", urlset())
        server.add("/deeper.xml", urlset())
        laughs = ('<!DOCTYPE urlset [<!ENTITY lol "lol">' + "".join(
            f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">'
            for i in range(1, 10)) + f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">'
            f'<!ENTITY % ext SYSTEM "{u("/evil.dtd")}"> %ext;]>\n')
        server.add("/attack.xml", urlset(news(u("/x/1.html"), HOUR, "Attacco &xxe; &lol9; fine",
                                              keywords="&lol9;"), prolog=laughs))
        config = sitemap_config(tmp_path, [
            ("detected", u("/feed.xml"), "feed"), ("html", u("/home.html"), "sitemap"),
            ("bomb", u("/bomb.xml.gz"), "sitemap"), ("limits", u("/big-index.xml"), "sitemap"),
            ("attack", u("/attack.xml"), "sitemap")],
            sitemap={"max_sitemaps": 3, "max_depth": 1, "max_bytes": 1_000_000})
        proc = run_cli("fetch", "--config", str(config), "--verbose")

        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        failed = sorted(line.split()[1].rstrip(":") for line in proc.stderr.splitlines()
                        if line.startswith("FAILED"))
        assert failed == ["bomb", "html"], proc.stderr
        assert "home.html: not a sitemap: the server sent an HTML page" in proc.stderr
        assert "sitemap too large: more than 1000000 bytes after gunzip" in proc.stderr
        assert "answers with a sitemap" in proc.stderr
        records = {r["feed"]: r for r in read_records(tmp_path / "out")}
        assert records["detected"]["title"] == "Rilevato"
        assert records["attack"]["title"].startswith("Attacco")
        assert "lol" not in records["attack"]["title"] + str(records["attack"]["tags"])
        assert [server.hits(f"/s/{n}.xml") for n in range(4)] == [1, 1, 0, 0]
        assert server.hits("/deeper.xml") == 0 and server.hits("/evil.dtd") == 0
        assert "max_sitemaps (3) reached" in proc.stderr
        assert "max_depth (1) reached" in proc.stderr
        for path in tmp_path.rglob("*"):
            if path.is_file() and path != secret:
                assert canary.encode() not in path.read_bytes(), path
        assert canary not in proc.stderr + proc.stdout
