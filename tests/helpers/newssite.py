"""A small news site for end-to-end tests: feeds in several formats and encodings,
article pages from ../shared/corpus, served by the fault server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .records import validate_records


@dataclass
class Item:
    title: str
    link: str
    guid: str | None = None
    summary: str = ""
    content: str = ""  # HTML for content:encoded / atom:content
    published: str = "Wed, 03 Dec 2025 10:00:00 GMT"


@dataclass
class CorpusPage:
    name: str
    html: bytes
    url: str  # the publisher's original URL
    paragraphs: list[str] = field(default_factory=list)  # ground truth body


def italian_fundus_pages(corpus: Path) -> list[CorpusPage]:
    root = corpus / "pages" / "fundus"
    pages = []
    for pair in json.loads((root / "html_to_expected.json").read_text()):
        if not pair["html"].startswith("test_data/it/"):
            continue
        truth = json.loads((root / pair["expected"]).read_text())[pair["key"]]
        paragraphs = [p for s in truth["body"]["sections"] for p in s["paragraphs"]]
        name = Path(pair["html"]).stem.split("_")[0]
        pages.append(CorpusPage(name, (root / pair["html"]).read_bytes(), pair["url"], paragraphs))
    return pages


def ansa_page(seed_text: str) -> bytes:
    """The seed article in a page shaped like ANSA's: headings, body, copyright footer last."""
    lines = seed_text.strip().split("\n")
    body = []
    for line in lines:
        tag = "h2" if len(line) < 60 and not line.startswith("Riproduzione") else "p"
        body.append(f"<{tag}>{escape(line)}</{tag}>")
    return f"""<!DOCTYPE html><html lang="it"><head><meta charset="utf-8">
<title>Umerov a Bruxelles - Mondo - ANSA</title>
<meta property="og:site_name" content="Agenzia ANSA"></head><body>
<header><nav><a href="/">Home</a> <a href="/mondo">Mondo</a> <a href="/politica">Politica</a></nav></header>
<main><article><h1>Umerov a Bruxelles per incontri con i consiglieri europei</h1>
<div class="news-txt">{''.join(body)}</div></article></main>
<footer><p>P.IVA 00876481003 - Contatti - Privacy</p></footer></body></html>""".encode()


def rss(items: list[Item], *, encoding: str = "utf-8", title: str = "Feed",
        language: str = "it") -> bytes:
    parts = [f'<?xml version="1.0" encoding="{encoding}"?>',
             '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
             f"<channel><title>{escape(title)}</title><link>http://127.0.0.1/</link>",
             f"<language>{language}</language><copyright>Copyright ANSA</copyright>"]
    for it in items:
        parts.append(f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>")
        if it.guid:
            parts.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        parts.append(f"<pubDate>{it.published}</pubDate>")
        parts.append(f"<description>{escape(it.summary)}</description>")
        if it.content:
            parts.append(f"<content:encoded><![CDATA[{it.content}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode(encoding, errors="xmlcharrefreplace")


def atom(items: list[Item], *, title: str = "Atom feed") -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title><id>urn:test:atom</id>"
             "<updated>2025-12-03T10:00:00Z</updated>"]
    for it in items:
        parts.append(f'<entry><title>{escape(it.title)}</title><link rel="alternate" '
                     f'href="{escape(it.link)}"/><id>{escape(it.guid or it.link)}</id>'
                     f"<updated>2025-12-03T10:00:00Z</updated>"
                     f"<summary>{escape(it.summary)}</summary></entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def rdf(items: list[Item], *, title: str = "RDF feed") -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
             'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
             f'<channel rdf:about="urn:test:rdf"><title>{escape(title)}</title>'
             "<link>http://127.0.0.1/</link></channel>"]
    for it in items:
        parts.append(f'<item rdf:about="{escape(it.link)}"><title>{escape(it.title)}</title>'
                     f"<link>{escape(it.link)}</link><dc:date>2025-12-03T10:00:00Z</dc:date>"
                     f"<description>{escape(it.summary)}</description></item>")
    parts.append("</rdf:RDF>")
    return "\n".join(parts).encode("utf-8")


def plain_page(title: str, number: int) -> bytes:
    """A made-up article page any extractor reads: a heading and four long paragraphs."""
    sentence = (f"Questa è la notizia numero {number}, scritta per le prove di ingest: "
                "una frase abbastanza lunga perché l'estrazione la riconosca come testo. ")
    paragraphs = "".join(f"<p>{sentence * 3}Paragrafo {j}.</p>" for j in range(4))
    return (f'<!DOCTYPE html><html lang="it"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title></head><body><article><h1>{escape(title)}</h1>{paragraphs}</article>"
            "</body></html>").encode()


def add_small_site(server, feeds: int = 2, per_feed: int = 3) -> list[tuple[str, str]]:
    """``feeds`` RSS feeds of ``per_feed`` made-up articles each on ``server`` (no corpus
    needed); returns the ``(name, url)`` pairs write_config takes."""
    pairs = []
    for f in range(feeds):
        items = []
        for i in range(per_feed):
            path = f"/small/{f}/{i}.html"
            server.add(path, plain_page(f"Notizia {f}-{i}", f * 100 + i),
                       {"Content-Type": "text/html; charset=utf-8"})
            items.append(Item(f"Notizia {f}-{i}", server.url(path), f"small-{f}-{i}"))
        server.add(f"/small/{f}.xml", rss(items), {"Content-Type": "application/rss+xml"})
        pairs.append((f"small-{f}", server.url(f"/small/{f}.xml")))
    return pairs


def write_config(path: Path, feeds: list[tuple[str, str]], **sections) -> Path:
    """A config for a local site: private networks allowed (127.0.0.1), no politeness delay."""
    cfg = {
        "feeds": [{"name": name, "url": url} for name, url in feeds],
        "output": {"dir": "out"},
        "state": {"path": "state/state.sqlite"},
        "http": {"allow_private_networks": True, "per_host_delay": 0, "timeout": 10,
                 "per_host_concurrency": 4},
    }
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


def read_records(out_dir: Path) -> list[dict]:
    """Every record under ``out_dir`` (``*.jsonl`` and ``*.jsonl.gz``), checked against
    schema/record.schema.json."""
    records = []
    for path in sorted([*out_dir.rglob("*.jsonl"), *out_dir.rglob("*.jsonl.gz")]):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        for line in data.splitlines():
            records.append(json.loads(line))
    return validate_records(records)


RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
WORDS = ("consiglio comunale sindaco traffico piazza stazione treno regione governo ministro "
         "scuola studenti ospedale medici cantiere ponte strada lavori bilancio tasse mercato "
         "porto nave turisti museo mostra teatro concerto squadra partita allenatore tifosi "
         "pioggia neve vento sole montagna lago fiume bosco parco giardino biblioteca").split()


def article(i: int) -> bytes:
    rng = random.Random(i)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(45)).capitalize() + ".</p>"
        for _ in range(4))
    return (f"<!DOCTYPE html><html lang='it'><head><title>Articolo {i}</title></head><body>"
            f"<article><h1>Articolo {i}</h1>{paragraphs}</article></body></html>").encode()
