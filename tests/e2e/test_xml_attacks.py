"""XML attacks, end to end: external entities (XXE) and entity-expansion bombs in feeds and in
article pages, served on 127.0.0.1 to `ingest fetch` in a subprocess.

  XXE       nothing of the files the entities name (/etc/passwd, a canary file of our own,
            the laminas probe's info file) may reach any output file, the state store,
            stdout or stderr; no external DTD or entity is ever fetched (the fault server
            would see the request).
  bombs     billion laughs and quadratic blow-up finish in bounded time, with every
            process of the run (main, forkserver, workers) under a memory bound.
In every case the healthy feed beside the attack is written in full.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from html import escape
from pathlib import Path

import pytest

from helpers.cli import ingest_command
from helpers.faultserver import FaultServer
from helpers.newssite import Item, read_records, rss, write_config

pytestmark = pytest.mark.timeout(60)

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
PASSWD_MARK = "root:x:0:0"
TIME_BOUND = 25.0  # seconds for a whole run
RSS_BOUND = 1024 * 1024 * 1024  # bytes: peak RSS of any one process of the run (1 GiB)


_WORDS = ("harbour council budget river school bridge festival library tram market orchard "
          "museum election vineyard railway hospital stadium glacier ferry theatre").split()


def article_html(n: int, extra: str = "", *, doctype: str = "<!DOCTYPE html>",
                 prolog: str = "") -> bytes:
    """An article whose lines are unique to ``n`` even with digits ignored (so the footer
    stage never learns them as a site's boilerplate)."""
    paragraphs = "".join(
        f"<p>Paragraph {i} of story {n}: the {_WORDS[(n + i) % 20]} of the town met the "
        f"{_WORDS[(n * 3 + i) % 20]} committee and voted on the {_WORDS[(n * 7 + i) % 20]} "
        f"plan, after a long debate.</p>" for i in range(6))
    return (f"{prolog}{doctype}<html lang='en'><head><title>Story {n}</title></head><body>"
            f"<article><h1>Story {n}</h1>{extra}{paragraphs}</article></body></html>").encode()


def billion_laughs(depth: int = 9, root: str = "rss") -> str:
    """The classic bomb: &lol9; expands to 10^9 "lol"s (3 GB)."""
    decls = ['<!ENTITY lol "lol">']
    for i in range(1, depth + 1):
        prev = "lol" if i == 1 else f"lol{i - 1}"
        decls.append(f'<!ENTITY lol{i} "{f"&{prev};" * 10}">')
    return f"<!DOCTYPE {root} [\n" + "\n".join(decls) + "\n]>"


def quadratic_blowup(root: str = "rss") -> tuple[str, str]:
    """One 100 kB entity referenced 20,000 times (2 GB), without nesting."""
    return (f'<!DOCTYPE {root} [<!ENTITY a "{"x" * 100_000}">]>', "&a;" * 20_000)


def attack_rss(doctype: str, text: str, link: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n'
            f'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>Attack {text}</title><link>http://127.0.0.1/</link>"
            f"<description>{text}</description><copyright>{text}</copyright>"
            f"<item><title>Attack item {text}</title><link>{escape(link)}</link>"
            f"<guid>attack-1</guid><author>{text}</author><category>{text}</category>"
            f"<description>Summary {text} end</description>"
            f"<content:encoded>Content {text} end</content:encoded></item>"
            f"</channel></rss>").encode()


class Run:
    """`ingest fetch` in its own session, watched: wall time and each process's peak RSS."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        started = time.monotonic()
        proc = subprocess.Popen([*ingest_command(), "fetch", "--config", str(config), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        self.peak_rss = 0
        out_chunks: list[bytes] = []
        try:
            while proc.poll() is None:
                self.peak_rss = max(self.peak_rss, _session_peak_rss(proc.pid))
                if time.monotonic() - started > TIME_BOUND:
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            self.stdout, self.stderr = proc.communicate(timeout=30)
            out_chunks.append(self.stdout)
        self.seconds = time.monotonic() - started
        self.returncode = proc.returncode


def _session_peak_rss(session: int) -> int:
    """The largest VmHWM (peak resident set) among the processes of ``session``."""
    peak = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:  # field 6: session id
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            continue
    return peak


@pytest.fixture
def site(tmp_path):
    """A healthy feed on one server, the attacks on another; a canary secret file."""
    with FaultServer() as healthy, FaultServer() as attacker:
        for n in (1, 2):
            healthy.add(f"/a/{n}.html", article_html(n), HTML)
        healthy.add("/feed.xml", rss([Item(f"Healthy {n}", healthy.url(f"/a/{n}.html"), f"h{n}")
                                      for n in (1, 2)]), RSS)
        canary = f"canary-{secrets.token_hex(8)}"
        secret = tmp_path / "secret" / "canary.txt"
        secret.parent.mkdir()
        secret.write_text(f"{canary}\n")
        yield {"healthy": healthy, "attacker": attacker, "tmp": tmp_path, "canary": canary,
               "secret": secret}


def fetch(site, attack_feeds: dict[str, str] = None, *args: str, extra_items=()) -> Run:
    """Run with the healthy feed (plus ``extra_items``) and the named attack feeds."""
    feeds = [("healthy", site["healthy"].url("/feed.xml")), *(attack_feeds or {}).items()]
    if extra_items:
        site["healthy"].add("/feed.xml", rss(
            [Item(f"Healthy {n}", site["healthy"].url(f"/a/{n}.html"), f"h{n}") for n in (1, 2)]
            + list(extra_items)), RSS)
    config = write_config(site["tmp"] / "config.yaml", feeds, extract={"workers": 1},
                          http={"timeout": 5})
    return Run(config, *args)


def healthy_urls(site) -> set[str]:
    return {site["healthy"].url(f"/a/{n}.html") for n in (1, 2)}


def assert_bounded_and_healthy(site, run: Run) -> list[dict]:
    """Bounded time and memory; the healthy feed written; only attack feeds may fail."""
    stderr = run.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    assert run.seconds < TIME_BOUND, f"took {run.seconds:.1f}s"
    assert run.peak_rss < RSS_BOUND, f"a process of the run peaked at {run.peak_rss >> 20} MiB"
    assert run.returncode in (0, 1), stderr
    failed = [line for line in stderr.splitlines() if line.startswith("FAILED")]
    assert not any(line.startswith("FAILED healthy") for line in failed), stderr
    assert (run.returncode == 1) == bool(failed), stderr
    records = read_records(site["tmp"] / "out")
    assert healthy_urls(site) <= {r["url"] for r in records}
    return records


def assert_nothing_leaked(site, run: Run, *secrets_: str) -> None:
    """No secret in stdout, stderr, or any file the run wrote (output, state, WAL...)."""
    marks = [PASSWD_MARK, site["canary"], *secrets_]
    streams = run.stdout + run.stderr
    for mark in marks:
        assert mark.encode() not in streams, f"{mark!r} reached stdout/stderr"
    for path in site["tmp"].rglob("*"):
        if path.is_file() and path.parent != site["secret"].parent:
            data = path.read_bytes()
            for mark in marks:
                assert mark.encode() not in data, f"{mark!r} reached {path}"


# -- external entities ------------------------------------------------------------------------

EVIL_DTD = '<!ENTITY xxe SYSTEM "{secret}">'


def xxe_doctypes(site) -> dict[str, str]:
    evil = site["attacker"].url("/evil.dtd")
    secret = site["secret"].as_uri()
    return {
        "passwd": '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "canary": f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret}">]>',
        "public-id": f'<!DOCTYPE rss [<!ENTITY xxe PUBLIC "-//x//y" "{secret}">]>',
        "external-dtd": f'<!DOCTYPE rss SYSTEM "{evil}">',
        "parameter-entity": f'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{evil}"> %ext;]>',
        "http-entity": f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{evil}">]>',
    }


@pytest.fixture
def evil_dtd(site):
    """An external DTD on the attacker's server that would pull in the canary file."""
    site["attacker"].add("/evil.dtd", EVIL_DTD.format(secret=site["secret"].as_uri()).encode(),
                         {"Content-Type": "application/xml-dtd"})
    return site["attacker"].url("/evil.dtd")


def test_feeds_with_external_entities_leak_nothing(site, evil_dtd):
    """`&xxe;` in every field of a feed and an entry, one feed per way of declaring it."""
    attacker, feeds = site["attacker"], {}
    for i, (variant, doctype) in enumerate(xxe_doctypes(site).items()):
        link = attacker.url(f"/a/{10 + i}.html")
        attacker.add(f"/a/{10 + i}.html", article_html(10 + i), HTML)
        attacker.add(f"/xxe-{variant}.xml", attack_rss(doctype, "&xxe;", link), RSS)
        feeds[f"xxe-{variant}"] = attacker.url(f"/xxe-{variant}.xml")
    run = fetch(site, feeds, "-vv", "--log-format", "json")
    records = assert_bounded_and_healthy(site, run)
    assert {r["feed"] for r in records} == {"healthy", *feeds}, "an entry was not written"
    assert_nothing_leaked(site, run)
    assert attacker.hits("/evil.dtd") == 0, "an external DTD or entity was fetched"


def test_file_links_and_entities_in_feed_html_leak_nothing(site, evil_dtd):
    """Entries that link to local files, and feed HTML (content:encoded) that declares
    external entities: nothing is read from the disk."""
    secret = site["secret"].as_uri()
    html_doc = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
                f'<!ENTITY canary SYSTEM "{secret}">]><html><body><p>Feed HTML &xxe; and '
                f'&canary; {"with enough words to stand in for the page. " * 6}</p>'
                f'<iframe src="{secret}"></iframe><img src="file:///etc/passwd"></body></html>')
    items = [Item("Link to passwd", "file:///etc/passwd", "f1", content=html_doc),
             Item("Link to canary", secret, "f2", content=html_doc),
             Item("Local path", "/etc/passwd", "f3", content=html_doc),
             Item("Page with HTML content", site["attacker"].url("/a/40.html"), "f4",
                  content=html_doc)]
    site["attacker"].add("/files.xml", rss(items), RSS)
    run = fetch(site, {"file-links": site["attacker"].url("/files.xml")}, "-vv")
    assert_bounded_and_healthy(site, run)
    assert_nothing_leaked(site, run)
    assert site["attacker"].hits("/evil.dtd") == 0


def test_laminas_xxe_probe_leaks_nothing(site, corpus):
    """The laminas-feed test corpus's probe: XXE_URI is replaced with a file holding
    `xxe-information-disclosed`, which must never show up."""
    probe_dir = corpus / "feeds" / "laminas-feed" / "test" / "Reader" / "_files" / "Reader"
    probes = sorted(probe_dir.glob("xxe*.xml"))
    assert probes, f"no xxe*.xml probe in {probe_dir}"
    info = (probe_dir / "xxe-info.txt").read_text().strip()
    target = site["secret"].with_name("xxe-info.txt")
    target.write_text(info)
    attacker, feeds = site["attacker"], {}
    for i, probe in enumerate(probes):
        body = probe.read_bytes().replace(b"XXE_URI", target.as_uri().encode())
        attacker.add(f"/probe-{i}.xml", body, {"Content-Type": "application/atom+xml"})
        feeds[f"probe-{i}"] = attacker.url(f"/probe-{i}.xml")
        # The same probe with an entry, so the entity also lands in an entry's fields.
        entry = (f'<entry><title>&discloseInfo;</title><id>urn:probe:{i}</id>'
                 f'<link href="{attacker.url(f"/a/{20 + i}.html")}"/>'
                 f"<summary>&discloseInfo;</summary><content>&discloseInfo;</content>"
                 f"<updated>2025-12-03T10:00:00Z</updated></entry></feed>").encode()
        attacker.add(f"/a/{20 + i}.html", article_html(20 + i), HTML)
        attacker.add(f"/probe-{i}-entry.xml", body.replace(b"</feed>", entry),
                     {"Content-Type": "application/atom+xml"})
        feeds[f"probe-{i}-entry"] = attacker.url(f"/probe-{i}-entry.xml")
    run = fetch(site, feeds, "-vv")
    assert_bounded_and_healthy(site, run)
    assert_nothing_leaked(site, run, info)


PAGE_TYPES = {"html": "text/html; charset=utf-8", "xhtml": "application/xhtml+xml",
              "xml": "application/xml"}


def test_pages_with_external_entities_leak_nothing(site, evil_dtd):
    attacker = site["attacker"]
    doctype = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
               f'<!ENTITY canary SYSTEM "{site["secret"].as_uri()}">'
               f'<!ENTITY % ext SYSTEM "{evil_dtd}"> %ext;]>')
    items = []
    for i, (kind, content_type) in enumerate(PAGE_TYPES.items()):
        page = article_html(40 + i, "<p>Leak one: &xxe; and two: &canary; end of the leak.</p>",
                            doctype=doctype, prolog='<?xml version="1.0"?>\n')
        attacker.add(f"/xxe-page-{kind}.html", page, {"Content-Type": content_type})
        items.append(Item(f"XXE page {kind}", attacker.url(f"/xxe-page-{kind}.html"), kind))
    run = fetch(site, None, "-vv", extra_items=items)
    records = assert_bounded_and_healthy(site, run)
    assert run.returncode == 0
    assert len(records) == 2 + len(PAGE_TYPES), "a page was not written"
    assert_nothing_leaked(site, run)
    assert attacker.hits("/evil.dtd") == 0


# -- entity-expansion bombs ---------------------------------------------------------------------

def test_entity_bombs_in_feeds_are_bounded(site):
    attacker = site["attacker"]
    attacker.add("/a/30.html", article_html(30), HTML)
    attacker.add("/a/31.html", article_html(31), HTML)
    attacker.add("/bomb.xml", attack_rss(billion_laughs(), "&lol9;", attacker.url("/a/30.html")),
                 RSS)
    doctype, refs = quadratic_blowup()
    attacker.add("/quad.xml", attack_rss(doctype, refs, attacker.url("/a/31.html")), RSS)
    run = fetch(site, {"bomb-laughs": attacker.url("/bomb.xml"),
                       "bomb-quadratic": attacker.url("/quad.xml")})
    for rec in assert_bounded_and_healthy(site, run):
        fields = rec["text"] + rec["title"] + (rec.get("summary") or "")
        assert "lollollol" not in fields and "x" * 100_000 not in fields


def test_entity_bombs_in_pages_are_bounded(site):
    attacker = site["attacker"]
    doctype, refs = quadratic_blowup(root="html")
    items = []
    for i, (kind, content_type) in enumerate(PAGE_TYPES.items()):
        laughs = article_html(50 + i, "<p>&lol9;</p>", doctype=billion_laughs(root="html"),
                              prolog='<?xml version="1.0"?>\n')
        quadratic = article_html(60 + i, f"<p>{refs}</p>", doctype=doctype,
                                 prolog='<?xml version="1.0"?>\n')
        for name, page in (("laughs", laughs), ("quadratic", quadratic)):
            attacker.add(f"/{name}-{kind}.html", page, {"Content-Type": content_type})
            items.append(Item(f"Bomb {name} {kind}", attacker.url(f"/{name}-{kind}.html"),
                              f"{name}-{kind}"))
    run = fetch(site, None, extra_items=items)
    assert run.returncode == 0
    for rec in assert_bounded_and_healthy(site, run):
        assert "lollollollol" not in rec["text"] and "x" * 100_000 not in rec["text"]
