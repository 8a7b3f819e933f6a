"""`ingest fetch` then `ingest stories`, as a user runs them: a wire story copied by two
outlets is one story of three records, listed from the state store (also beside a lock
holder), biggest first; --min-size and --json."""

import json
import random

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, WORDS, Item, read_records, rss, write_config
from ingest.state.sqlite import SqliteStore

NO_WAIT = {"INGEST_STATE_LOCK_TIMEOUT": "0"}


def body(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(45)).capitalize() + "." for _ in range(5)]


def page(title: str, paragraphs: list[str]) -> bytes:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang='it'><head><title>{title}</title></head><body>"
            f"<article><h1>{title}</h1>{ps}</article></body></html>").encode()


def test_a_story_from_three_outlets_is_listed_once_with_its_sites(tmp_path):
    story = body(1)
    copies = {"wire": story, "uno": ["Lo riferisce l'agenzia."] + story[:-1],
              "due": ["Notizia di oggi."] + story[1:]}
    with FaultServer() as server:
        feeds = []
        for outlet, paragraphs in copies.items():
            server.add(f"/{outlet}/fatto.html", page(f"Il fatto ({outlet})", paragraphs), HTML)
            server.add(f"/{outlet}/altro.html", page(f"Altro ({outlet})", body(len(feeds) + 10)),
                       HTML)
            items = [Item(f"Il fatto ({outlet})", server.url(f"/{outlet}/fatto.html")),
                     Item(f"Altro ({outlet})", server.url(f"/{outlet}/altro.html"))]
            server.add(f"/{outlet}.xml", rss(items), RSS)
            feeds.append((outlet, server.url(f"/{outlet}.xml")))
        config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1},
                              schedule={"concurrency": 1})
        fetch = run_cli("fetch", "--config", str(config))
    assert fetch.returncode == 0, fetch.stderr
    assert "near-duplicates: 2 of stories already known (marked)" in fetch.stderr
    records = read_records(tmp_path / "out")
    story_ids = {r["story_id"] for r in records if "/fatto.html" in r["url"]}
    assert len(records) == 6 and len(story_ids) == 1

    holder = SqliteStore(tmp_path / "state" / "state.sqlite", lock_timeout=0)
    try:
        listed = run_cli("stories", "--json", "--config", str(config), env=NO_WAIT)
        table = run_cli("stories", "--config", str(config), env=NO_WAIT)
        singles = run_cli("stories", "--json", "--min-size", "1", "--config", str(config),
                          env=NO_WAIT)
    finally:
        holder.close()
    assert listed.returncode == 0, listed.stderr
    (found,) = json.loads(listed.stdout)
    assert (found["story_id"], found["size"]) == (story_ids.pop(), 3)
    assert sorted(found["titles"]) == sorted(f"Il fatto ({o})" for o in copies)
    assert found["sites"] == ["127.0.0.1"]
    assert table.stdout.startswith("3 records · 1 sites · first published ")
    sizes = [s["size"] for s in json.loads(singles.stdout)]
    assert sizes == [3, 1, 1, 1]  # biggest first
