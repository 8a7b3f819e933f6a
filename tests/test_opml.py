"""OPML in and out: parsing untrusted files safely, merging into config.yaml as written."""

import json

import pytest

from ingest.config import load_config
from ingest.errors import ConfigError
from ingest.models import Feed
from ingest.opml import OpmlFeed, parse_opml, render_opml
from ingest.opml_config import import_opml, merge

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
