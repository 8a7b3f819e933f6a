"""OPML in and out: parsing untrusted files safely, merging into config.yaml as written."""

import json
import time

import pytest

from ingest.config.load import load_config
from ingest.config.opml import OpmlFeed, parse_opml, render_opml
from ingest.config.opml_import import import_opml, merge
from ingest.errors import ConfigError
from ingest.models import Feed

MINIFLUX = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title></head>
  <body>
    <outline text="News">
      <outline text="World" title="World">
        <outline type="rss" text="BBC   World" xmlUrl="https://feeds.example.org/world.xml"
                 htmlUrl="https://example.org/"/>
      </outline>
      <outline type="rss" title="Tech" text="ignored" XMLURL="https://tech.example.net/rss"
               category="/Science/Space,/Misc"/>
    </outline>
    <outline type="rss" text="" xmlUrl="https://nameless.example.com/feed"/>
    <outline text="An empty folder"/>
  </body>
</opml>"""


def test_nested_outlines_become_feeds_with_tags():
    assert [(f.name, f.url, f.tags, f.line) for f in parse_opml(MINIFLUX, "subs.opml")] == [
        ("BBC World", "https://feeds.example.org/world.xml", ("News", "World"), 7),
        ("Tech", "https://tech.example.net/rss", ("News", "Science", "Space", "Misc"), 10),
        (None, "https://nameless.example.com/feed", (), 13)]


@pytest.mark.parametrize("data, problem", [
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
     b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
     b'<outline text="&b;" xmlUrl="https://x.example/"/></body></opml>', "refused for safety"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     b'<opml><body><outline text="&xxe;" xmlUrl="https://x.example/"/></body></opml>',
     "refused for safety"),
    (b'<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/opml.dtd"><opml/>', "refused for safety"),
    (b"<opml><body><outline text='&nbsp;'/></body></opml>", "undefined entity"),
    (b"<opml><body>\n<outline>", "subs.opml:2: not well-formed XML"),
    (b"<html><body/></html>", "not an OPML file (the root element is <html>"),
    (b"", "not well-formed XML"),
])
def test_unsafe_or_broken_files_are_refused(data, problem):
    with pytest.raises(ConfigError, match=None) as caught:
        parse_opml(data, "subs.opml")
    assert problem in str(caught.value)


def test_export_reads_back_to_the_same_feeds():
    feeds = [Feed("one", "https://a.example/rss", None, ("News", "World")),
             Feed("two", "https://b.example/rss", None, ()),
             Feed("three & co", "https://c.example/rss?x=1&y=2", None, ("News",))]
    back = parse_opml(render_opml(feeds), "export.opml")
    assert sorted((f.name, f.url, f.tags) for f in back) == sorted(
        (f.name, f.url, f.tags) for f in feeds)  # grouped in folders by first tag


def test_merge_skips_known_urls_and_makes_names_unique():
    existing = [{"name": "BBC", "url": "https://Feeds.example.org/world.xml"}, {"url": "https://x.example/"}]
    incoming = [OpmlFeed("https://feeds.example.org/world.xml?utm_source=opml#top", "BBC 2"),
                OpmlFeed("https://new.example/rss", "bbc"),
                OpmlFeed("https://new.example/rss", "again"),
                OpmlFeed("feed://old.example/rss", "old"),
                OpmlFeed("https://other.example/rss", None)]
    report = merge(existing, incoming)
    assert [(f.name, f.url) for f in report.added] == [
        ("bbc-2", "https://new.example/rss"), (None, "https://other.example/rss")]
    assert [(f.name, reason.split(":")[0]) for f, reason in report.skipped] == [
        ("BBC 2", "already configured"), ("again", "already configured"),
        ("old", "not an http(s) URL")]


COMMENTED = """\
# My feeds, hand-kept.
feeds:
  - name: ansa   # the first one
    url: https://www.ansa.it/sito/ansait_rss.xml
    tags: [Italia]
  - url: https://feeds.example.org/world.xml
    # an indented note that belongs to the item above

# Where the articles go
output:
  dir: out    # relative to this file
state:
  path: state/state.sqlite
"""


def test_import_keeps_every_line_and_appends_after_the_feeds_block(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    config.write_text(COMMENTED)
    opml.write_bytes(MINIFLUX)
    report = import_opml(str(config), str(opml))
    assert [f.name for f in report.added] == ["Tech", None]
    text = config.read_text()
    head, tail = COMMENTED.split("\n# Where the articles go\n")
    assert text.startswith(head) and text.endswith("\n# Where the articles go\n" + tail)
    assert text[len(head):].startswith(
        "  - name: Tech\n    url: https://tech.example.net/rss\n"
        "    tags: [News, Science, Space, Misc]\n  - url: https://nameless.example.com/feed\n")
    cfg = load_config(config, env={})
    assert [f.name for f in cfg.feeds][-2:] == ["Tech", "nameless.example.com-feed"]
    assert import_opml(str(config), str(opml)).added == []  # idempotent


def test_a_json_config_stays_json_and_a_missing_one_is_created(tmp_path):
    config, opml = tmp_path / "config.json", tmp_path / "subs.opml"
    opml.write_bytes(MINIFLUX)
    config.write_text(json.dumps({"feeds": [{"url": "https://x.example/"}], "output": {"dir": "o"}}))
    import_opml(str(config), str(opml))
    assert len(json.loads(config.read_text())["feeds"]) == 4
    import_opml(str(tmp_path / "new.yaml"), str(opml))
    assert len(load_config(tmp_path / "new.yaml", env={}).feeds) == 3


def test_nothing_is_written_on_a_dry_run_or_when_the_result_would_not_load(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    opml.write_bytes(MINIFLUX)
    config.write_text(COMMENTED)
    assert len(import_opml(str(config), str(opml), dry_run=True).added) == 2
    assert config.read_text() == COMMENTED
    broken = COMMENTED.replace("  path: state", "  pth: state")
    config.write_text(broken)
    with pytest.raises(ConfigError, match=r"left unchanged.*config.yaml:\d+: state.pth: unknown"):
        import_opml(str(config), str(opml))
    assert config.read_text() == broken
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".config.yaml.*"))


# --- hostile files: only ConfigError comes out, after bounded work -------------------

def _opml(body: str, encoding: str = "UTF-8") -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<opml version="2.0"><body>{body}'
            "</body></opml>").encode("latin-1")


@pytest.mark.parametrize("encoding", ["utf-7", "big5", "rot13", "base64", "idna", "punycode",
                                      "undefined", "no-such-codec"])
def test_an_encoding_expat_cannot_take_is_refused(encoding):
    with pytest.raises(ConfigError, match=r"^subs\.opml:1: cannot read the encoding its XML "
                                          r"declaration names \(.+\); save the file as UTF-8"):
        parse_opml(_opml('<outline text="x" xmlUrl="https://a.example/"/>', encoding), "subs.opml")


def test_a_one_byte_encoding_is_still_read():
    feeds = parse_opml(_opml('<outline text="Caf\xe9" xmlUrl="https://a.example/"/>',
                             "windows-1252"), "subs.opml")
    assert [f.name for f in feeds] == ["Café"]


def test_outlines_nested_past_50_are_refused():
    # Every feed carries the titles of the folders above it: 2,000 levels of folders, a
    # feed in each, is two million tags.
    def levels(n: int) -> bytes:
        return _opml("".join(f'<outline text="f{i}"><outline text="x{i}" xmlUrl="https://'
                             f'a{i}.example/"/>' for i in range(n)) + "</outline>" * n)

    assert len(parse_opml(levels(49), "subs.opml")[-1].tags) == 49
    with pytest.raises(ConfigError, match=r"^subs\.opml:2: outlines nested more than 50 deep"):
        parse_opml(levels(2000), "subs.opml")


def test_a_file_larger_than_any_export_is_refused(tmp_path):
    (tmp_path / "big.opml").write_bytes(_opml(" " * 10_000_000))
    with pytest.raises(ConfigError, match=r"big\.opml: larger than 10,000,000 bytes"):
        import_opml(str(tmp_path / "config.yaml"), str(tmp_path / "big.opml"))
    assert not (tmp_path / "config.yaml").exists()


def test_many_feeds_of_one_name_are_named_in_linear_time():
    incoming = [OpmlFeed(f"https://a{i}.example/rss", "News") for i in range(20_000)]
    started = time.monotonic()
    report = merge([{"name": "News", "url": "https://x.example/"}], incoming)
    assert time.monotonic() - started < 10  # far above linear work, far below quadratic
    names = [f.name for f in report.added]
    assert names[:3] == ["News-2", "News-3", "News-4"] and names[-1] == "News-20001"
    assert len(set(names)) == 20_000


@pytest.mark.parametrize("config, problem", [
    ("feeds:\n  - url: https://a.example/\nhttp:\n  timeout: !!int abc\n",
     r"config\.yaml:4: not valid YAML \(cannot read 'abc' as !!int \(invalid literal"),
    ("feeds:\n  - url: https://a.example/\nx: " + "[" * 1000 + "]" * 1000 + "\n",
     r"config\.yaml:3: not valid YAML \(values nested more than 20 levels deep"),
    ("feeds:\n  - url: 0x" + "f" * 5000 + "\n",
     r"left unchanged, because with the new feeds it would not load: config\.yaml:2: "
     r"feeds\[0\]\.url: expected non-empty text, got a number of about 6021 digits"),
    (b"feeds: \xff\n", r"config\.yaml: cannot read the config file: 'utf-8' codec"),
], ids=["tag-cannot-build", "1000-brackets", "5000-digit-url", "not-utf8"])
def test_a_config_that_cannot_be_read_is_left_alone(tmp_path, monkeypatch, config, problem):
    monkeypatch.chdir(tmp_path)
    path, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    path.write_bytes(config if isinstance(config, bytes) else config.encode())
    opml.write_bytes(MINIFLUX)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=problem):
        import_opml("config.yaml", "subs.opml")
    assert path.read_bytes() == before
